redirect "bob@example.com";
keep;
