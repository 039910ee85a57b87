"""Which paths are whose: public/'s files, or the serve process's own answers.

``/api`` and below go to the ingest API, ``/healthz`` and ``/metrics`` to the health
checks; every other path is a file of public/. The workers (:mod:`.workers`) decide it
per request with :func:`is_internal` and pass the internal ones to the serve process,
whose one WSGI app is a :class:`PathDispatch`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

WSGIApp = Callable[[dict, Callable[..., object]], Iterable[bytes]]

API_PREFIX = "/api"
HEALTH_PATHS = frozenset({"/healthz", "/metrics"})
# Every internal path starts with one of these: one str.startswith rules out the rest.
INTERNAL_STARTS = (API_PREFIX, *sorted(HEALTH_PATHS))


def is_api(path: str) -> bool:
    """``/api`` or a path below it (not ``/apixyz``)."""
    return path.startswith(API_PREFIX) and (len(path) == len(API_PREFIX) or path[len(API_PREFIX)] == "/")


def is_internal(path: str) -> bool:
    """Whether a URL path is the serve process's to answer: /api and below, /healthz, /metrics."""
    return path in HEALTH_PATHS or is_api(path)


class PathDispatch:
    """The serve process's one WSGI app: ``/api`` and below to the ingest API (mounted once
    the address is known), everything else to the files of public/."""

    def __init__(self, public: WSGIApp, api: WSGIApp | None = None):
        self.public = public
        self.api = api

    def __call__(self, environ: dict, start_response: Callable[..., object]) -> Iterable[bytes]:
        if self.api is not None and is_api(environ.get("PATH_INFO", "")):
            return self.api(environ, start_response)
        return self.public(environ, start_response)
