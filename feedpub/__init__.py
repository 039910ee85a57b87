"""The edge of feedpub: the ``feedpub`` command, its configuration and its status report.

Read once here and handed down as plain values: ``settings`` turns ``feedpub.toml``
into a :class:`~feedpub.settings.Config`; ``cli`` parses a command line and imports
only what that command needs when it runs, so a command starts at once.
"""
