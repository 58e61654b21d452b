require "fileinto";
fileinto "Nope";
redirect "bob@example.com";
