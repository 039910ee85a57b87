"""feedpub's WSGI app for serving public/ under granian (bench/serve.py's alternative runner).

Only the files: no store, no jobs (those stay in ``feedpub serve``). The same
PublicFiles and the same request counting as ``feedpub serve``, over the folder
named by FEEDPUB_BENCH_PUBLIC; granian imports this module in each worker:

    FEEDPUB_BENCH_PUBLIC=public granian --interface wsgi --workers 2 \
        --working-dir bench granian_app:app
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from feeds.health import Observed  # noqa: E402
from feeds.server import PublicFiles  # noqa: E402

app = Observed(PublicFiles(Path(os.environ["FEEDPUB_BENCH_PUBLIC"]),
                           max_age=int(os.environ.get("FEEDPUB_BENCH_MAX_AGE", "900"))), lambda: None)
