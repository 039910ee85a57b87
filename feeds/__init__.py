"""The feed side of feedpub, by stage: rendering/ (articles to document bytes, pure),
building/ (what a change touched, and the build), publishing/ (atomic writes into the
web root, hub notifications) and serving/ (HTTP from what a build wrote); ``site.py``
holds the site's settings every stage reads.

Reads the source store only through ``sources.store.roles.FeedQueries`` and knows
nothing of scheduling (tests/test_layers.py holds it to that).
"""
