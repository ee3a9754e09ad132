"""Farming scenario work out to Ray."""
