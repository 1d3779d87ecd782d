"""`granary`: the entry point (launch) and the commands (app)."""
