"""Measuring a lead image once: its real byte length and media type.

RSS 2.0 requires ``length`` and ``type`` on an ``enclosure``; guessing them
makes podcast-style readers misbehave, so the importer asks the image's
server once, stores the answer, and never asks again for the same URL.
"""

from __future__ import annotations

import requests

from .errors import FeedpubError
from .model import Image

USER_AGENT = "feedpub/0.1 (+https://github.com/feedpub; measuring lead images)"
TIMEOUT = (5, 15)               # connect, read: seconds
MAX_BYTES = 50 * 1024 * 1024    # larger images are refused, not downloaded


class MediaError(FeedpubError):
    """An image could not be measured; the article is stored without the measurement."""


def _media_type(response: requests.Response) -> str | None:
    value = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
    return value or None


def measure_image(url: str, session: requests.Session | None = None) -> Image:
    """HEAD first; when the server does not say the length, count the body (bounded)."""
    http = session or requests.Session()
    headers = {"User-Agent": USER_AGENT}
    try:
        head = http.head(url, headers=headers, timeout=TIMEOUT, allow_redirects=True)
        if head.ok and head.headers.get("Content-Length", "").isdigit() and _media_type(head):
            length = int(head.headers["Content-Length"])
            if length > MAX_BYTES:
                raise MediaError(f"{url}: image is {length} bytes, over the {MAX_BYTES} byte limit")
            return _checked(url, Image(url, _media_type(head), length))
        with http.get(url, headers=headers, timeout=TIMEOUT, stream=True, allow_redirects=True) as response:
            if not response.ok:
                raise MediaError(f"{url}: the image server answered {response.status_code}")
            length = 0
            for chunk in response.iter_content(64 * 1024):
                length += len(chunk)
                if length > MAX_BYTES:
                    raise MediaError(f"{url}: image is over the {MAX_BYTES} byte limit")
            return _checked(url, Image(url, _media_type(response), length))
    except requests.RequestException as exc:
        raise MediaError(f"{url}: cannot measure the image: {exc}") from exc
    finally:
        if session is None:
            http.close()


def _checked(url: str, image: Image) -> Image:
    if not image.media_type or not image.media_type.startswith("image/"):
        raise MediaError(f"{url}: not an image (Content-Type {image.media_type or 'missing'})")
    return image
