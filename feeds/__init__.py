"""The feed side of feedpub: entries, renderers, build and publish, HTTP serving.

Reads the source store only through ``sources.store.roles.FeedQueries`` and knows
nothing of scheduling (tests/test_layers.py holds it to that).
"""
