require "fileinto";
if not allof (exists "From", exists "Date") { discard; stop; }
if size :under 1K { fileinto "Archive"; }
