"""Serving: the HTTP side of public/, which never renders anything.

:mod:`.server` answers from the files and the manifest a build wrote (validators,
codings, the page or the feed by ``Accept``); :mod:`.workers` runs it in granian's
worker processes and passes ``/api``, ``/healthz`` and ``/metrics`` to the serve
process (:mod:`.dispatch`); :mod:`.health` and :mod:`.stats` keep what a person or a
monitor asks about.
"""
