require ["fileinto", "nosuchthing"];
keep;
