"""Publishing: writing what a build rendered into the web root, whole or not at all.

:mod:`.atomic` writes files atomically; :mod:`.publish` writes a build's documents with
their precompressed variants (:mod:`.encoding`) and RFC 3229 histories (:mod:`.delta`)
and the manifest last; :mod:`.websub` tells hubs which feeds changed.
"""
