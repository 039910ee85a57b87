"""Building: deciding which documents a change touched and having them rendered and published.

:func:`.build.build` is the entry (one build, full or incremental, and its state);
:mod:`.builder` renders documents, :mod:`.planner` decides what an incremental build
renders (asking the store about every touched feed at once: :mod:`.asking`),
:mod:`.parallel` runs a large full build in two processes, :mod:`.fragments` keeps
rendered entries between builds.
"""
