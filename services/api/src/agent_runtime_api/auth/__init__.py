"""Authentication of API requests: API keys and OIDC bearer JWTs."""

from agent_runtime_api.auth.api_keys import authenticate_api_key
from agent_runtime_api.auth.authenticate import authenticate
from agent_runtime_api.auth.oidc import JwksCache, OidcConfig, OidcVerifier, roles_from_claims

__all__ = [
    "JwksCache",
    "OidcConfig",
    "OidcVerifier",
    "authenticate",
    "authenticate_api_key",
    "roles_from_claims",
]
