"""Bytes per row of the shared poll log (the ``polls`` table of a PostgreSQL store): an input of
docs/SCALE.md.

    python -m bench.poll_log_size postgresql://postgres@127.0.0.1:5432/test [--rows 200000]

In a new schema of that database (dropped at the end), the store's migrations make the table;
then ``--rows`` rows are written the way the server workers write them
(``PostgresPolls.add_polls``, batches of 500): each a different client address (a reader
polling alone: no two polls in one row), one of the main feed's three documents, 200 or 304
with their sizes (bench/wire_bytes.py), a desktop reader's User-Agent. Printed: the table's
size with its index and TOAST, per row.
"""

from __future__ import annotations

import argparse
import random
import time

import psycopg

from feedpub.settings import utc_now
from sources.store.postgres import PostgresPolls, PostgresStore

AGENTS = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
          "NetNewsWire (RSS Reader; https://netnewswire.com/)", "Thunderbird/115.0", "newsboat/2.36.0 (Linux x86_64)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("--rows", type=int, default=200_000)
    args = parser.parse_args()
    schema = f"feedpub_bench_polls_{int(time.time())}"
    with psycopg.connect(args.url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    url = f"{args.url}{'&' if '?' in args.url else '?'}options=-csearch_path%3D{schema}"
    try:
        PostgresStore(url, clock=utc_now).close()
        polls = PostgresPolls(url)
        rng = random.Random(1)
        start = time.time()
        batch = []
        for n in range(args.rows):
            status = 200 if rng.random() < 0.8 else 304
            batch.append((start + n / 300, rng.choice(("rss.xml", "atom.xml", "feed.json")), status,
                          31_284 if status == 200 else 0, rng.choice(AGENTS),
                          f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}", 1))
            if len(batch) == 500:
                polls.add_polls(batch)
                batch = []
        if batch:
            polls.add_polls(batch)
        polls.close()
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE polls")
            size = conn.execute("SELECT pg_total_relation_size('polls')").fetchone()[0]
        print(f"{args.rows:,} rows: {size / 1e6:.1f} MB with its index, {size / args.rows:.0f} bytes a row")
    finally:
        with psycopg.connect(args.url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


if __name__ == "__main__":
    main()
