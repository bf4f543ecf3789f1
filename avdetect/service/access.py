"""The API key check of the service (HTTP and WebSocket)."""

from __future__ import annotations

import hmac

from .uploads import ApiError


def check_key(api_key: str | None, headers) -> None:
    """401 unless the request carries the key (X-API-Key or Authorization: Bearer); constant time."""
    if api_key is None:
        return
    given = headers.get("x-api-key") or ""
    auth = headers.get("authorization") or ""
    if not given and auth.lower().startswith("bearer "):
        given = auth[7:].strip()
    if not hmac.compare_digest(given.encode("utf-8"), api_key.encode("utf-8")):
        raise ApiError(401, "missing or wrong API key (send X-API-Key or Authorization: Bearer)",
                       {"WWW-Authenticate": "Bearer"})
