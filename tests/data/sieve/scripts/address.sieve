require "fileinto";
if address :domain :is ["to", "cc"] "uni-paderborn.de" {
    fileinto "Work";
} elsif address :all :matches "from" "*@example.???" {
    fileinto "Archive";
} else {
    fileinto "Lists";
}
