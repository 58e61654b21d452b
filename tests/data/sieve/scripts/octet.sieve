require "fileinto";
if header :is :comparator "i;octet" "Subject" "HELLO" { fileinto "Work"; }
if header :is "Subject" "hello" { fileinto "Archive"; }
