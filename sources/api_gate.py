"""What the ingest API decides before it reads a request body, for a server worker to decide alike.

``feedpub serve``'s workers (feeds/serving/workers.py) read a request's body only when the
API (sources/api.py) would read it: an authenticated request whose method carries
one. Any other request's answer (404 with the API off, 401, 405) does not depend on
its body, so the worker passes it on unread. This module imports nothing of the
API, so a worker process does not load it.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

# The methods whose body the API reads: POST /api/articles, PUT and PATCH /api/articles/{id}.
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


def bearer_token(authorization: str) -> bytes | None:
    """The token an ``Authorization`` header value carries (RFC 6750 section 2.1), as the
    bytes the client sent, or None when it carries none."""
    scheme, _, given = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        return None
    # WSGI hands headers over as latin-1 text: these are the bytes the client sent.
    return given.strip().encode("latin-1")


@dataclass(frozen=True)
class BodyGate:
    """Whether the API will read a request's body: the API is on, the request carries its
    token, and its method carries a body. A plain value (picklable into a server worker),
    handed to the workers by the composition root."""

    token_sha256: bytes    # SHA-256 of the API's bearer token: the token itself never leaves the serve process

    @classmethod
    def for_token(cls, token: str) -> BodyGate:
        return cls(hashlib.sha256(token.encode("utf-8")).digest())

    def reads_body(self, method: str, authorization: str) -> bool:
        if method not in BODY_METHODS:
            return False
        given = bearer_token(authorization)
        return given is not None and hmac.compare_digest(hashlib.sha256(given).digest(), self.token_sha256)
