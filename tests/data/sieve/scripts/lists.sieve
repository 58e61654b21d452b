# File list mail by its List-Id; everything else stays in INBOX.
require "fileinto";
if exists "List-Id" {
    fileinto "Lists";
}
