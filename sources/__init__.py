"""The source side of feedpub: the article model, the store and the importers.

Knows nothing of feeds or scheduling (tests/test_layers.py holds it to that).
"""

from .errors import ConfigError, FeedpubError, IngestError, StoreError
from .model import Article, Image, IngestSettings, LinkTarget, RelatedLink, Revision, SaveResult, Status, Tombstone
from .store import ArticleStore, SQLiteStore

__all__ = [
    "Article", "ArticleStore", "ConfigError", "FeedpubError", "Image", "IngestError",
    "IngestSettings", "LinkTarget", "RelatedLink", "Revision", "SQLiteStore", "SaveResult", "Status", "StoreError",
    "Tombstone",
]
