# The gauge of X-PerlMx-Spam: seven X (70 %) or more.
require "fileinto";
if header :matches "X-PerlMx-Spam" "Gauge=XXXXXXX*" {
    fileinto "Junk";
}
