"""``python -m feedpub``: the same as the ``feedpub`` command."""

import sys

from feedpub.cli import main

sys.exit(main())
