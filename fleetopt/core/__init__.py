"""The base of every layer: errors and exit codes, defaults, signals."""
