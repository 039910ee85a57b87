"""Hostile clients against `feedpub serve` itself.

The server is the one production runs (scheduler.serve: granian's worker processes
serving public/, the health, metrics and API answers forwarded to the serve process),
started as its own process so that its memory, and its workers', can be read from
/proc. Requests are written byte for byte on raw sockets: an HTTP client library would
normalise the very paths and headers under test.
Each test prints its figures (``pytest -s``).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import socket
import subprocess
import time
from pathlib import Path

import pytest
import requests

from .harness import FEEDPUB, Served

pytestmark = pytest.mark.heavy

SECRET = "rahasia-token-0123456789abcdef"


class ServedLogging(Served):
    """`feedpub serve` as in tests/harness.py, its log in a file: an unread pipe fills
    up under a flood of logged requests and blocks the server."""

    def __init__(self, cwd: Path):
        self.cwd = cwd
        self.log = open(cwd / "serve.log", "w+", encoding="utf-8")   # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [*FEEDPUB, "serve", "--port", "0"], cwd=cwd, stdout=subprocess.PIPE, stderr=self.log, text=True,
            env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)})
        line = self.process.stdout.readline()
        match = re.search(r"serving (http://\S+)/", line)
        if not match:
            self.process.kill()
            raise AssertionError(f"no address announced: {line!r} {(cwd / 'serve.log').read_text()}")
        self.url = match.group(1)
        self.port = int(self.url.rsplit(":", 1)[1])

    def stop(self) -> int:
        try:
            return super().stop()
        finally:
            self.log.close()


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    cwd = tmp_path_factory.mktemp("hostile-clients")
    # A secret beside public/ that no path may reach; the API on, so /api/ is served too.
    (cwd / "feedpub.toml").write_text(f'[schedule]\nrebuild_minutes = 60\n[api]\ntoken = "{SECRET}"\n',
                                      encoding="utf-8")
    service = ServedLogging(cwd)
    yield service
    assert service.stop() == 0
    # Nothing a client sent made the server fail (a 500 is logged with its traceback).
    assert "Traceback" not in (cwd / "serve.log").read_text()


def rss_etag(served: Served) -> tuple[bytes, str]:
    body = (served.cwd / "public" / "rss.xml").read_bytes()
    return body, f'"{hashlib.sha256(body).hexdigest()[:40]}"'


def raw(port: int, request: bytes, *, timeout: float = 15) -> tuple[int, dict[str, str], bytes]:
    """Send ``request`` as it is and read the whole answer (the request asks to close).
    Status 0: the server reset the connection before its answer could be read (it refused
    a request head while the rest was still being sent)."""
    data = b""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        try:
            sock.sendall(request)
            while chunk := sock.recv(65536):
                data += chunk
        except ConnectionResetError:
            if not data.startswith(b"HTTP/"):
                return 0, {}, b""
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in lines[1:])}
    return status, headers, body


def get(target: bytes | str, *headers: str) -> bytes:
    target = target.encode("latin-1") if isinstance(target, str) else target
    extra = "".join(f"{header}\r\n" for header in headers).encode("latin-1")
    return b"GET " + target + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n" + extra + b"Connection: close\r\n\r\n"


def rss_kib(pid: int) -> int:
    """Resident memory of ``pid`` and every process under it (the server's workers)."""
    status = Path(f"/proc/{pid}/status").read_text()
    total = int(re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE).group(1))
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            try:
                total += rss_kib(int(child))
            except (FileNotFoundError, ProcessLookupError):   # ended meanwhile
                pass
    return total


def assert_still_right(served: Served) -> None:
    """200 with the ETag of the bytes in public/, and 304 for that ETag."""
    body, etag = rss_etag(served)
    status, headers, got = raw(served.port, get("/rss.xml"))
    assert (status, headers["etag"], got) == (200, etag, body)
    status, headers, got = raw(served.port, get("/rss.xml", f"If-None-Match: {etag}"))
    assert (status, headers["etag"], got) == (304, etag, b"")


TRAVERSALS = [
    "/../feedpub.toml", "/%2e%2e/feedpub.toml", "/%2E%2E%2Ffeedpub.toml", "/..%2ffeedpub.toml",
    "/%252e%252e/feedpub.toml", "/%252e%252e%252ffeedpub.toml", "/..%5cfeedpub.toml", "/..\\feedpub.toml",
    "/%5c..%5cfeedpub.toml", "/%c0%ae%c0%ae/feedpub.toml", "/..%c0%affeedpub.toml", "/.%2e/feedpub.toml",
    "/public/../../feedpub.toml", "//feedpub.toml", "/./../feedpub.toml", "/..;/feedpub.toml",
    "/../data/feedpub.sqlite3", "/%2e%2e/data/feedpub.sqlite3", "/rss.xml%00.toml", "/rss.xml%00",
    "/%00/../feedpub.toml", "/.manifest.json", "/%2emanifest.json", "/.delta/", "/rss.xml.gz", "/rss.xml.br",
    "/api/../feedpub.toml", "/api/articles/..%2f..%2ffeedpub.toml", "/" + "../" * 50 + "etc/passwd",
    "/file:///etc/passwd", "/%2F%2Fetc%2Fpasswd",
]


def test_path_traversal_in_every_spelling_reaches_nothing_outside_public(served):
    outcomes = {}
    for target in [*TRAVERSALS, b"/..\x00/feedpub.toml", b"/rss.xml\x00"]:
        status, _, body = raw(served.port, get(target))
        outcomes[target] = status
        assert status in (400, 401, 404), (target, status)
        assert SECRET.encode() not in body and b"SQLite format 3" not in body, target
    print(f"\n{len(outcomes)} traversal requests: " + ", ".join(
        f"{count} x {status}" for status, count in sorted(
            {s: list(outcomes.values()).count(s) for s in set(outcomes.values())}.items())))
    assert_still_right(served)


def test_overlong_urls_and_headers_are_answered_and_change_nothing(served):
    body, etag = rss_etag(served)
    cases = {
        # The longest request target the HTTP layer (hyper, under granian) takes: 65,534 bytes.
        "64 KB query": get("/rss.xml?" + "a" * (65534 - len("/rss.xml?"))),
        "64 KB path": get("/" + "a" * 65533),
        "over 64 KB path": get("/" + "a" * 65536),
        "64 KB header": get("/rss.xml", "X-Padding: " + "a" * 65536),
        "64 KB If-None-Match": get("/rss.xml", "If-None-Match: " + ('"x",' * 16384) + etag),
        "100 headers": get("/rss.xml", *(f"X-H{n}: {n}" for n in range(98))),   # + Host, Connection
        "1,000 headers": get("/rss.xml", *(f"X-H{n}: {n}" for n in range(1000))),
        "300 KB header": get("/rss.xml", "X-Padding: " + "a" * 300_000),
        "1 MB URL": get("/rss.xml?" + "a" * 1_048_576),
    }
    figures = []
    for name, request in cases.items():
        status, headers, got = raw(served.port, request)
        figures.append(f"{name}: {status or 'reset after a 431'}")
        if name == "64 KB If-None-Match":
            assert (status, headers["etag"]) == (304, etag)
        elif name == "64 KB path":   # a name the file system cannot hold (ENAMETOOLONG): no such file
            assert status == 404
        elif name == "over 64 KB path":   # longer than hyper parses
            assert status == 414
        elif name in ("300 KB header", "1 MB URL", "1,000 headers"):   # over 256 KB of head, or 100 fields
            assert status in (431, 0)
        else:
            assert (status, headers["etag"], got) == (200, etag, body)
    print("\n" + "; ".join(figures))
    assert_still_right(served)


MALFORMED_VALIDATORS = ['"', '""', ",,,,", "W/", 'W/"', '*, "x"', "\x01\x02", "," * 10_000, 'W/"abc', '"\\"',
                        '"' + "f" * 40 + '-br', "\xff\xfe", '"x" , , W/', "*,*", " ", 'W/W/W/"x"']
MALFORMED_A_IM = ["feed", "feed, feed", "feed;q=x", "FEED", "\xff", "feed" * 5000, ",", "gzip, feed, vcdiff"]


def test_malformed_if_none_match_and_a_im_get_a_normal_answer(served):
    body, etag = rss_etag(served)
    seen = {}
    for validator in MALFORMED_VALIDATORS:
        for a_im in (None, *MALFORMED_A_IM):
            headers = [f"If-None-Match: {validator}"] + ([f"A-IM: {a_im}"] if a_im is not None else [])
            status, answer, got = raw(served.port, get("/rss.xml", *headers))
            seen[status] = seen.get(status, 0) + 1
            if status == 400:   # a control character in a header value is refused (RFC 9110 5.5)
                assert re.search("[\x00-\x08\x0a-\x1f\x7f]", validator + (a_im or "")), (validator, a_im)
                continue
            # None of them is "*" alone or names the current ETag (RFC 9110 13.1.2): the whole feed.
            assert (status, answer.get("etag"), got) == (200, etag, body), (validator, a_im, status)
    print(f"\n{sum(seen.values())} requests with malformed If-None-Match / A-IM: {seen}")
    assert_still_right(served)


CONNECTIONS = 1000
IDLE, SLOWLORIS = 300, 200   # the rest make a whole request


async def crowd(port: int, etag: str, length: int) -> dict[str, int]:
    """1,000 connections at once: idle ones, slowloris ones (a header line a second, never
    finished) and ones that make a request and read the answer whole."""
    figures = {"answered": 0, "answered 304": 0, "wrong": 0, "refused": 0}
    stop = asyncio.Event()

    async def idle(reader, writer) -> None:
        await stop.wait()

    async def slowloris(reader, writer) -> None:
        writer.write(b"GET /rss.xml HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        number = 0
        while not stop.is_set():
            await asyncio.sleep(1)
            number += 1
            writer.write(b"X-Slow-%d: x\r\n" % number)
            try:
                await writer.drain()
            except ConnectionError:
                return

    async def honest(reader, writer, number: int) -> None:
        validator = f"If-None-Match: {etag}\r\n" if number % 2 else ""
        writer.write(f"GET /rss.xml HTTP/1.1\r\nHost: 127.0.0.1\r\n{validator}Connection: close\r\n\r\n".encode())
        await writer.drain()
        data = await asyncio.wait_for(reader.read(), timeout=30)
        head, _, body = data.partition(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1]) if head else 0
        right_etag = f"etag: {etag}".encode() in head.lower()
        if status == 200 and right_etag and len(body) == length:
            figures["answered"] += 1
        elif status == 304 and right_etag and not body:
            figures["answered 304"] += 1
        else:
            figures["wrong"] += 1

    async def one(number: int) -> None:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            figures["refused"] += 1
            return
        try:
            if number < IDLE:
                await idle(reader, writer)
            elif number < IDLE + SLOWLORIS:
                await slowloris(reader, writer)
            else:
                await honest(reader, writer, number)
        except (ConnectionError, asyncio.TimeoutError, ValueError, IndexError):
            figures["wrong"] += 1
        finally:
            writer.close()

    # The idle and slowloris connections first: they hold their places while the others come.
    slow = [asyncio.create_task(one(number)) for number in range(IDLE + SLOWLORIS)]
    await asyncio.sleep(1)
    started = time.monotonic()
    await asyncio.gather(*(one(number) for number in range(IDLE + SLOWLORIS, CONNECTIONS)))
    figures["seconds for the honest ones"] = round(time.monotonic() - started, 2)
    stop.set()
    await asyncio.gather(*slow)
    return figures


def test_a_thousand_connections_some_idle_or_slow_and_the_server_stays_right_and_bounded(served):
    body, etag = rss_etag(served)
    pid = served.process.pid
    for _ in range(50):   # warm: every representation loaded once before the first figure
        requests.get(served.url + "/rss.xml", timeout=5)
    before = rss_kib(pid)
    figures = asyncio.run(crowd(served.port, etag, len(body)))
    for _ in range(1):
        figures_again = asyncio.run(crowd(served.port, etag, len(body)))
        assert figures_again["wrong"] == 0 and figures_again["refused"] == 0, figures_again
    after = rss_kib(pid)
    honest = CONNECTIONS - IDLE - SLOWLORIS
    print(f"\n{CONNECTIONS} connections ({IDLE} idle, {SLOWLORIS} slowloris, {honest} requests), 2 rounds; "
          f"first round {figures}; server RSS {before / 1024:.1f} MB before, {after / 1024:.1f} MB after "
          f"({(after - before) / 1024:+.1f} MB); second round {figures_again}")
    assert figures["answered"] + figures["answered 304"] == honest, figures
    assert figures["wrong"] == figures["refused"] == 0
    assert served.process.poll() is None
    assert after - before < 100 * 1024   # KiB: bounded, whatever the crowd did
    assert_still_right(served)
