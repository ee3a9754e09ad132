"""Reading cases and writing run folders: the case format, validation, run records, the store."""
