redirect "bob@example.com";
