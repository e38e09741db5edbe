"""Business rules. The only place that calls Temporal; holds no SQL (repositories do)."""
