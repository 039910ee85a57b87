"""Measuring a lead image once: its real byte length and media type.

RSS 2.0 requires ``length`` and ``type`` on an ``enclosure``; guessing them
makes podcast-style readers misbehave, so the importer asks the image's
server once, stores the answer, and never asks again for the same URL.

The URL is not ours: a partner's feed or an article names it. So a look-up goes
only to public addresses (checked after resolution, on every redirect hop; see
:mod:`sources.outbound`) unless the operator allowed the host, and has one
deadline for the whole of it, HEAD and GET together: otherwise a partner could
make the service read its own loopback or intranet and publish the answer's size
and type, or hold a look-up open with a trickle.
"""

from __future__ import annotations

import socket

import requests

from .errors import FeedpubError
from .model import Image, ImageLookups
from .outbound import AddressRefused, Exchange, Resolver

USER_AGENT = "feedpub/0.1 (+https://github.com/feedpub; measuring lead images)"
MAX_BYTES = 50 * 1024 * 1024    # larger images are refused, not downloaded
MAX_REDIRECTS = 5
CHUNK = 64 * 1024


class MediaError(FeedpubError):
    """An image could not be measured; the article is stored without the measurement."""


def _media_type(response: requests.Response) -> str | None:
    value = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
    return value or None


def measure_image(url: str, lookups: ImageLookups, *, resolver: Resolver = socket.getaddrinfo) -> Image:
    """HEAD first; when the server does not say the length, count the body (bounded).
    ``resolver`` is getaddrinfo's stand-in (tests play a rebinding DNS with it)."""
    headers = {"User-Agent": USER_AGENT}
    with Exchange(lookups.timeout_seconds, policy=lookups.policy, max_redirects=MAX_REDIRECTS,
                  resolver=resolver) as exchange:
        try:
            with exchange.request("HEAD", url, headers=headers, allow_redirects=True) as head:
                if (head.ok and head.headers.get("Content-Length", "").isdigit() and _media_type(head)
                        and not exchange.timed_out):
                    length = int(head.headers["Content-Length"])
                    if length > MAX_BYTES:
                        raise MediaError(f"{url}: image is {length} bytes, over the {MAX_BYTES} byte limit")
                    return _checked(url, Image(url, _media_type(head), length))
            with exchange.request("GET", url, headers=headers, allow_redirects=True) as response:
                if not response.ok:
                    raise MediaError(f"{url}: the image server answered {response.status_code}")
                length = 0
                for chunk in response.iter_content(CHUNK):
                    length += len(chunk)
                    if length > MAX_BYTES:
                        raise MediaError(f"{url}: image is over the {MAX_BYTES} byte limit")
                    if exchange.timed_out:
                        break
                if exchange.timed_out:
                    # Cut by the watchdog: a body without a length would be counted short.
                    raise MediaError(f"{url}: timed out after {lookups.timeout_seconds:g} s")
                return _checked(url, Image(url, _media_type(response), length))
        except AddressRefused as exc:
            raise MediaError(f"{url}: {exc}") from exc
        except requests.RequestException as exc:
            if exchange.timed_out or isinstance(exc, requests.Timeout):
                raise MediaError(f"{url}: timed out after {lookups.timeout_seconds:g} s") from exc
            raise MediaError(f"{url}: cannot measure the image: {exc}") from exc


def _checked(url: str, image: Image) -> Image:
    if not image.media_type or not image.media_type.startswith("image/"):
        raise MediaError(f"{url}: not an image (Content-Type {image.media_type or 'missing'})")
    return image
