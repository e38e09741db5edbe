"""Shared core of Agent Runtime: settings, database models, repositories, Temporal contracts."""
