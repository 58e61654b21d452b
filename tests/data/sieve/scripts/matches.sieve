require "fileinto";
if header :matches "Subject" "*\\*urgent\\**" { fileinto "Work"; }
if header :matches "Subject" "Re: ?ello*" { fileinto "Archive"; }
