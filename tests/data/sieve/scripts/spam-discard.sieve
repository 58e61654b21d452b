require ["relational", "comparator-i;ascii-numeric"];
if header :value "gt" :comparator "i;ascii-numeric" "X-IMT-Spam-Score" "90" {
    discard;
    stop;
}
keep;
