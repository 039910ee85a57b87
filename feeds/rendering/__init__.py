"""Rendering: from the store's articles to document bytes, pure."""
