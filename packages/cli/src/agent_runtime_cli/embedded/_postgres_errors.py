"""The error of the embedded Postgres (internal: its own module so the parts can share it)."""

__all__ = ["EmbeddedPostgresError"]


class EmbeddedPostgresError(RuntimeError):
    """The embedded Postgres cluster could not be set up, started or stopped."""
