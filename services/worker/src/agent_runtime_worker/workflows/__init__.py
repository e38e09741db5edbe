"""Workflows: deterministic only (no I/O, clock, randomness, settings or database)."""
