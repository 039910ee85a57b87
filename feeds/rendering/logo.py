"""The bundled channel image, published as logo.png unless ``site.image`` names another."""

from __future__ import annotations

from importlib import resources

from ..site import SiteSettings
from .document import Document
from .entries import EPOCH, FeedView

PNG_TYPE = "image/png"


def render_logo(view: FeedView, site: SiteSettings) -> Document | None:
    if site.image:
        return None
    body = (resources.files("feeds.rendering") / "assets" / "logo.png").read_bytes()
    # A constant time: the file only changes with a feedpub release.
    return Document("logo.png", body, PNG_TYPE, EPOCH.isoformat())
