require "fileinto";
if header :contains "Subject" "x" {
    fileinto "Work"
}
