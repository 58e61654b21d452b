# Spam into a Junk folder: the scan's probability (X-IMT-Spam-Score, seed §3.1 step 6) from 50 %.
require ["fileinto", "relational", "comparator-i;ascii-numeric"];
if header :value "ge" :comparator "i;ascii-numeric" "X-IMT-Spam-Score" "50" {
    fileinto "Junk";
    stop;
}
