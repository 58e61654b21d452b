require "envelope";
if envelope :domain :is "from" "example.org" {
    redirect "boss@uni-paderborn.de";
}
