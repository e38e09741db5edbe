"""Model registry: turns an agent version's `provider:model` string into a pydantic-ai model."""
