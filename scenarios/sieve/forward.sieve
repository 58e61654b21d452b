# Forward everything to a freemail address and keep no copy (students reading mail elsewhere).
redirect "student@gmx.de";
