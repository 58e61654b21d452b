# Junk by the scanner's subject tag (seed §3.1 step 8).
require "fileinto";
if header :contains "Subject" "{SPAM!}" {
    fileinto "Junk";
    stop;
}
