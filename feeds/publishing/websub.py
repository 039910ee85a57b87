"""WebSub publishing: telling hubs that a feed changed (W3C WebSub, section 7).

A publish notification is ``POST hub.mode=publish&hub.url=<topic>`` (the
PubSubHubbub 0.4 convention every public hub accepts); any 2xx answer means
the hub took it. The decision of *what* to notify is pure
(:func:`changed_topics`); sending is one request with a timeout through
requests, and errors come back as :class:`HubError`. Retrying and scheduling
belong to scheduler.py.
"""

from __future__ import annotations

from collections.abc import Iterable

import requests

from sources.errors import FeedpubError

from ..site import SiteSettings

USER_AGENT = "feedpub/0.1 (WebSub publisher)"
FEED_TYPES = frozenset({"application/rss+xml", "application/atom+xml", "application/feed+json"})


class HubError(FeedpubError):
    """A hub refused or did not answer a publish notification."""


def is_feed(content_type: str) -> bool:
    return content_type.split(";")[0].strip().lower() in FEED_TYPES


def changed_topics(written: Iterable[tuple[str, str]], site: SiteSettings) -> list[str]:
    """Topic URLs of the feed documents among ``written`` (path, content type) pairs."""
    return sorted(site.url(path) for path, content_type in written if is_feed(content_type))


def notify_hub(session: requests.Session, hub: str, topic: str, *, timeout: float) -> None:
    try:
        response = session.post(
            hub,
            data={"hub.mode": "publish", "hub.url": topic},
            headers={"User-Agent": USER_AGENT},
            timeout=timeout,
            allow_redirects=False,
        )
    except requests.RequestException as exc:
        raise HubError(f"{hub}: {type(exc).__name__}: {exc}") from exc
    if not 200 <= response.status_code < 300:
        raise HubError(f"{hub}: answered {response.status_code} {response.reason}")
