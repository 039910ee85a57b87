"""Measuring a lead image once: its real byte length, media type and size in pixels.

RSS 2.0 requires ``length`` and ``type`` on an ``enclosure``; guessing them
makes podcast-style readers misbehave, so the importer asks the image's
server once, stores the answer, and never asks again for the same URL. Partners
refuse images below a size (docs/PARTNERS.md) and Media RSS ``media:content``
carries ``width`` and ``height``, so the look-up reads the size too: from the
image's header only. A GET asks for the first :data:`HEADER_BYTES` (``Range``,
RFC 9110 section 14.2) and stops reading as soon as the header gives the size; a
server that ignores the range is read no further than that either, unless it said
the image's length nowhere (then the body is counted, bounded, as before).

The URL is not ours: a partner's feed or an article names it. So a look-up goes
only to public addresses (checked after resolution, on every redirect hop; see
:mod:`sources.outbound`) unless the operator allowed the host, and has one
deadline for the whole of it, HEAD and GET together: otherwise a partner could
make the service read its own loopback or intranet and publish the answer's size
and type, or hold a look-up open with a trickle.
"""

from __future__ import annotations

import io
import re
import socket

import imagesize
import requests

from .errors import FeedpubError
from .model import Image, ImageLookups
from .outbound import AddressRefused, Exchange, Resolver

USER_AGENT = "feedpub/0.1 (+https://github.com/feedpub; measuring lead images)"
MAX_BYTES = 50 * 1024 * 1024    # larger images are refused, not downloaded
MAX_REDIRECTS = 5
CHUNK = 64 * 1024
# Where a size must be found: a JPEG's frame header follows its EXIF and ICC segments (each
# at most 64 KiB, several of them in a camera's file); PNG, GIF and WebP say it in 30 bytes.
HEADER_BYTES = 256 * 1024
_CONTENT_RANGE = re.compile(r"bytes\s+\d+-\d+/(\d+)\s*$")


class MediaError(FeedpubError):
    """An image could not be measured; the article is stored without the measurement."""


def _media_type(response: requests.Response) -> str | None:
    value = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
    return value or None


def _declared_length(response: requests.Response) -> int | None:
    """The whole image's length as this response states it: a 206's ``Content-Range``
    total, a 200's ``Content-Length``; None when it does not say."""
    if response.status_code == 206:
        found = _CONTENT_RANGE.match(response.headers.get("Content-Range", ""))
        return int(found.group(1)) if found else None
    length = response.headers.get("Content-Length", "")
    return int(length) if length.isdigit() and "Content-Encoding" not in response.headers else None


def image_size(head: bytes) -> tuple[int, int] | None:
    """(width, height) from the first bytes of an image (PNG, JPEG, GIF, WebP, AVIF and more:
    imagesize reads headers only); None while they do not hold the size yet."""
    width, height = imagesize.get(io.BytesIO(head))
    return (width, height) if width > 0 and height > 0 else None


def measure_image(url: str, lookups: ImageLookups, *, resolver: Resolver = socket.getaddrinfo) -> Image:
    """HEAD for the length and type; a GET of the first bytes for the size (when the server
    says the length nowhere, the GET counts the whole body, bounded).
    ``resolver`` is getaddrinfo's stand-in (tests play a rebinding DNS with it)."""
    headers = {"User-Agent": USER_AGENT}
    with Exchange(lookups.timeout_seconds, policy=lookups.policy, max_redirects=MAX_REDIRECTS,
                  resolver=resolver) as exchange:
        try:
            length, media_type = None, None
            with exchange.request("HEAD", url, headers=headers, allow_redirects=True) as head:
                if head.ok and head.headers.get("Content-Length", "").isdigit() and not exchange.timed_out:
                    length, media_type = int(head.headers["Content-Length"]), _media_type(head)
            if length is not None and length > MAX_BYTES:
                raise MediaError(f"{url}: image is {length} bytes, over the {MAX_BYTES} byte limit")
            # identity: the range counts the image's own bytes, not a compressed form of them.
            ranged = {**headers, "Range": f"bytes=0-{HEADER_BYTES - 1}", "Accept-Encoding": "identity"}
            with exchange.request("GET", url, headers=ranged, allow_redirects=True) as response:
                if not response.ok:
                    raise MediaError(f"{url}: the image server answered {response.status_code}")
                media_type = media_type or _media_type(response)
                length = length if length is not None else _declared_length(response)
                size, counted = _read(url, response, exchange, whole=length is None)
            if length is None:
                if response.status_code == 206:
                    raise MediaError(f"{url}: the image server says the image's length nowhere")
                length = counted
            if length > MAX_BYTES:
                raise MediaError(f"{url}: image is {length} bytes, over the {MAX_BYTES} byte limit")
            width, height = size or (0, 0)
            return _checked(url, Image(url, media_type, length, width, height))
        except AddressRefused as exc:
            raise MediaError(f"{url}: {exc}") from exc
        except requests.RequestException as exc:
            if exchange.timed_out or isinstance(exc, requests.Timeout):
                raise MediaError(f"{url}: timed out after {lookups.timeout_seconds:g} s") from exc
            raise MediaError(f"{url}: cannot measure the image: {exc}") from exc


def _read(url: str, response: requests.Response, exchange: Exchange, *,
          whole: bool) -> tuple[tuple[int, int] | None, int]:
    """(the size, once the bytes read give it; the bytes read). Stops at the size, or at
    :data:`HEADER_BYTES` without one, unless ``whole``: then counts to the end (bounded)."""
    head = bytearray()
    size = None
    counted = 0
    for chunk in response.iter_content(CHUNK if whole else 16 * 1024):
        counted += len(chunk)
        if counted > MAX_BYTES:
            raise MediaError(f"{url}: image is over the {MAX_BYTES} byte limit")
        if size is None and len(head) < HEADER_BYTES:
            head += chunk[:HEADER_BYTES - len(head)]
            size = image_size(bytes(head))
        if exchange.timed_out:
            break
        if not whole and (size is not None or len(head) >= HEADER_BYTES):
            break
    if exchange.timed_out:
        # Cut by the watchdog: a body without a length would be counted short.
        raise MediaError(f"{url}: timed out after {exchange.seconds:g} s")
    return size, counted


def _checked(url: str, image: Image) -> Image:
    if not image.media_type or not image.media_type.startswith("image/"):
        raise MediaError(f"{url}: not an image (Content-Type {image.media_type or 'missing'})")
    return image
