require "fileinto";
if header :contains "Subject" "Prüfung" { fileinto "Work"; }
if address :is "from" "müller@example.org" { fileinto "Archive"; }
