require "vacation";
vacation :days 3 :addresses ["b.smith@uni-paderborn.de", "bob@mail.uni-paderborn.de"] text:
I am away.
..this line began with a dot
.
;
