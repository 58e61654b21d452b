require "vacation";
vacation :days 14 :subject "Out of office" "I am away until the end of the month.";
