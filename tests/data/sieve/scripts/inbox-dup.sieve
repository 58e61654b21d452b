require "fileinto";
keep;
fileinto "INBOX";
fileinto "inbox";
fileinto "Work";
fileinto "Work";
redirect "a@example.com";
redirect "a@example.com";
