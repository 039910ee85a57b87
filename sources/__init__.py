"""The source side of feedpub: the article model, the store and the importers.

Knows nothing of feeds or scheduling (tests/test_layers.py holds it to that).
Nothing is imported here: ``sources.errors`` or ``sources.model`` alone must not
load the store, the importers or their libraries.
"""
