# Forward ham to a home address and keep a copy; spam stays here.
require ["relational", "comparator-i;ascii-numeric"];
if header :value "lt" :comparator "i;ascii-numeric" "X-IMT-Spam-Score" "50" {
    redirect "home@web.de";
}
keep;
