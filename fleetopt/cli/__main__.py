"""`python -m fleetopt.cli`: the same as the `fleetopt` command."""

from fleetopt.cli.main import main

main()
