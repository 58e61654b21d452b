# Newsletters into "Archive", a folder this mailbox does not have (a semantic error the server cannot
# check, seed §3.2): the fileinto fails and the message stays in INBOX.
require ["fileinto"];
if anyof (header :is "precedence" "bulk", exists "list-id") {
    fileinto "Archive";
}
