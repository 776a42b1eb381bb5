"""Import and export of the customer records as CSV (and JSON for export)."""
