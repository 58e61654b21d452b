# Throw away what the scan is sure is spam (seed §3.2: a script can lose mail on purpose).
if header :contains "subject" "{SPAM!}" {
    discard;
    stop;
}
