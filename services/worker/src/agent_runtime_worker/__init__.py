"""Agent Runtime worker: Temporal workflows and activities running pydantic-ai agents."""
