"""The one pydantic-ai agent the worker registers, configured per run from the agent version."""
