"""Helpers for tests and benchmarks: case folders from rows, synthetic fleet cases."""
