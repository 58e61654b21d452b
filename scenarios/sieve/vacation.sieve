# Away: an automatic reply once a week per sender (RFC 5230), spam into Junk first.
require ["fileinto", "vacation", "relational", "comparator-i;ascii-numeric"];
if header :value "ge" :comparator "i;ascii-numeric" "X-IMT-Spam-Score" "50" {
    fileinto "Junk";
    stop;
}
vacation :days 7 :subject "Out of office" "I am away until the end of the month and will read your mail then.";
