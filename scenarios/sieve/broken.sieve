# A syntax error (a missing semicolon): the script does not compile, mail goes to INBOX (seed §3.2).
require ["fileinto"];
if header :contains "subject" "{SPAM" {
    fileinto "Junk"
}
