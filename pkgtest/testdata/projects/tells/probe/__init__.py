"""An ordinary package: its test looks for moat."""
