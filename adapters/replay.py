"""Replay files: JSON Lines, one event a line, parsed once into domain types (stub, filled below)."""
