"""The source store: articles, their related links and revisions, the remote sources'
polling state, and a log of what changed for incremental builds.

- ``roles``: what each part of feedpub may ask of the store, one Protocol per role
  (feeds/ imports only these);
- ``schema``: the numbered migrations;
- ``sqlite``: :class:`SQLiteStore`, the embedded backend.

Only the composition root (scheduler.py, feedpub/) opens a store; everything else is
handed one, typed with the role it uses.
"""

from .roles import ArticleStore
from .sqlite import SQLiteStore

__all__ = ["ArticleStore", "SQLiteStore"]
