"""Agent Runtime control plane: the REST /v1 API (FastAPI)."""
