# Mailing lists into their own folder, tagged spam into Junk (the subject tag of seed §3.1 step 8).
require ["fileinto"];
if header :contains "subject" ["{SPAM!}", "{SPAM?}"] {
    fileinto "Junk";
} elsif exists "list-id" {
    fileinto "Lists";
} elsif header :is "precedence" "bulk" {
    fileinto "Newsletters";
}
