"""The project's one exception hierarchy.

Every error feedpub reports to a person derives from :class:`FeedpubError` and
says which file, line, key or field is at fault. Third-party errors are wrapped
where they enter (``raise IngestError(...) from exc``) so the original stays
chained for debugging.
"""


class FeedpubError(Exception):
    """Base of every error feedpub raises on purpose."""


class ConfigError(FeedpubError):
    """A configuration file or value is wrong; the message names the key."""


class IngestError(FeedpubError):
    """An article source cannot be imported; the message names file and line."""

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None):
        self.path = path
        self.line = line
        where = path or ""
        if path and line:
            where = f"{path}:{line}"
        super().__init__(f"{where}: {message}" if where else message)


class StoreError(FeedpubError):
    """The source store refused a write or cannot be opened."""
