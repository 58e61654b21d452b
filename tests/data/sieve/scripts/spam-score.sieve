# Junk by PureMessage's score header, compared as a number (RFC 5231 with i;ascii-numeric).
require ["fileinto", "relational", "comparator-i;ascii-numeric"];
if header :value "ge" :comparator "i;ascii-numeric" "X-IMT-Spam-Score" "50" {
    fileinto "Junk";
} elsif header :value "ge" :comparator "i;ascii-numeric" "X-IMT-Spam-Score" "20" {
    fileinto "Archive";
}
