"""Bytes on the wire per feed poll, by answer and coding: the inputs of docs/SCALE.md.

    python -m bench.wire_bytes [--articles 1000]

A copy of the benchmark corpus (bench/corpus.py: ~3 KB of HTML per article, 12 categories,
300 tags, 150 authors) is served by a real `feedpub serve` on 127.0.0.1 with the catalogue
on and the default 50 entries a feed. For the main feed in its three formats and for one
category feed, each of these requests is sent once over a new connection and every byte of
the answer counted (status line, headers and body, as a reader's link carries them; TCP/IP
and TLS overhead not included):

- 304: ``If-None-Match`` with the current ETag (with ``Accept-Encoding: br, gzip``, as
  readers send it);
- 200 br, 200 gzip, 200 identity: no validator, ``Accept-Encoding`` br / gzip / none;
- 226 (one entry): RFC 3229 ``A-IM: feed`` with the ETag of the version before one new
  article (feeds/publishing/delta.py), br.

Request bytes are printed too (what a reader sends, with a typical User-Agent). The figures
depend only on the documents, not on the machine's load.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.corpus import store_path

ROOT = Path(__file__).resolve().parent.parent
USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"
NEW_ARTICLE = ("---\ntitle: Banjir Rendam Tiga Desa di Baturaja\ncategories: [{category}]\n---\n"
               "BATURAJA - OKES.NEWS - " + "Hujan deras sejak pagi merendam tiga desa di tepi sungai. " * 40 + "\n(*)\n")


def request(port: int, path: str, headers: dict[str, str]) -> tuple[int, int, int, dict[str, str]]:
    """(status, bytes of the whole answer, bytes of the request, answer headers) over a new connection."""
    lines = [f"GET {path} HTTP/1.1", "Host: news.example.com", f"User-Agent: {USER_AGENT}", "Accept: */*",
             *(f"{name}: {value}" for name, value in headers.items()), "Connection: close", "", ""]
    sent = "\r\n".join(lines).encode()
    received = bytearray()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(sent)
        while chunk := sock.recv(65536):
            received += chunk
    head = received.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    status = int(head[0].split()[1])
    answer = {line.split(":", 1)[0].lower(): line.split(":", 1)[1].strip() for line in head[1:]}
    return status, len(received), len(sent), answer


def serve(folder: Path) -> tuple[subprocess.Popen, int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    process = subprocess.Popen([sys.executable, "-c", "import sys; from feedpub.cli import main; sys.exit(main())",
                                "serve", "--port", str(port)], cwd=folder, stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    line = process.stdout.readline()   # the site's address (its base_url): once it serves
    if "serving" not in line:
        process.kill()
        raise SystemExit(f"feedpub serve did not start: {line!r}")
    return process, port


def ingest(folder: Path, text: str) -> None:
    (folder / "new.txt").write_text(text, encoding="utf-8")
    subprocess.run([sys.executable, "-c", "import sys; from feedpub.cli import main; sys.exit(main())", "ingest",
                    str(folder / "new.txt")], cwd=folder, check=True, capture_output=True,
                   env={**os.environ, "PYTHONPATH": str(ROOT)})


def wait_for_etag(port: int, path: str, old: str) -> str:
    import time

    for _ in range(300):
        _, _, _, answer = request(port, path, {"Accept-Encoding": "br"})
        if answer.get("etag") != old:
            return answer["etag"]
        time.sleep(0.1)
    raise SystemExit(f"{path} did not change")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=1000, help="corpus size (the feeds hold 50 entries each)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="feedpub-wire-") as work:
        folder = Path(work)
        shutil.copyfile(store_path(args.articles), folder / "feedpub.sqlite3")
        (folder / "feedpub.toml").write_text(
            '[site]\nbase_url = "https://news.example.com"\n[store]\npath = "feedpub.sqlite3"\nsample = false\n'
            '[output]\npath = "public"\n[feeds]\ncategories = true\ntags = true\nauthors = true\n'
            '[server]\nworkers = 1\n', encoding="utf-8")
        process, port = serve(folder)
        try:
            category = sorted((folder / "public" / "category").iterdir())[0].name
            paths = ["/rss.xml", "/atom.xml", "/feed.json", f"/category/{category}/atom.xml"]
            before = {path: request(port, path, {"Accept-Encoding": "br"})[3]["etag"] for path in paths}
            ingest(folder, NEW_ARTICLE.format(category=category.replace("-", " ").title()))
            rows = []
            for path in paths:
                etag = wait_for_etag(port, path, before[path])
                cases = [
                    ("304", {"Accept-Encoding": "br, gzip", "If-None-Match": etag}),
                    ("200 br", {"Accept-Encoding": "br"}),
                    ("200 gzip", {"Accept-Encoding": "gzip"}),
                    ("200 identity", {}),
                    ("226 br (one entry)", {"Accept-Encoding": "br", "A-IM": "feed", "If-None-Match": before[path]}),
                ]
                for name, headers in cases:
                    status, received, sent, _ = request(port, path, headers)
                    rows.append((path, name, status, received, sent))
        finally:
            process.terminate()
            process.wait(timeout=20)
    print(f"| document | answer | status | bytes received | bytes sent |\n| --- | --- | ---: | ---: | ---: |")
    for path, name, status, received, sent in rows:
        print(f"| {path} | {name} | {status} | {received:,} | {sent:,} |")


if __name__ == "__main__":
    main()
