"""The `fleetopt` command line, its shared options and supervision."""
