require ["fileinto", "vacation", "envelope", "relational", "comparator-i;ascii-numeric"];
if header :contains "X-PerlMx-Spam" "Probability=9" { discard; stop; }
if exists "List-Id" { fileinto "Lists"; stop; }
if address :localpart :is "from" "alice" { fileinto "Work"; }
if anyof (size :over 100K, header :count "ge" :comparator "i;ascii-numeric" "Received" "3") {
    fileinto "Archive";
}
vacation :days 7 "Away.";
