require "relational";
if header :value "gt" :comparator "i;ascii-numeric" "X-IMT-Spam-Score" "5" { discard; }
