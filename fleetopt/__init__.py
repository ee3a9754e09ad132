"""fleetopt: plans inference rack fleets at the lowest cost per token."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("fleetopt")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"
