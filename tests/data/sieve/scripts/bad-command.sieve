require "fileinto";
if frobnicate "x" { fileinto "Work"; }
