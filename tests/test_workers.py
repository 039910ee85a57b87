"""`feedpub serve` on granian: worker processes serve public/, the service stays in one process."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import requests

from feedpub.settings import load_config
from feeds.serving.health import SharedCounters, read_shared_counters
from feeds.serving.server import PublicFiles

from .test_health import parse
from .harness import DEADLINE, Served, wait_for


def children(pid: int) -> dict[int, str]:
    """The processes whose parent is ``pid``, with their command lines."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            if int(stat[1]) == pid:
                found[int(entry)] = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, IndexError, ValueError):
            continue   # ended while we looked
    return found


def workers_of(pid: int) -> set[int]:
    return {child for child, command in children(pid).items() if "spawn_main" in command}


def test_counts_of_several_processes_add_up(tmp_path):
    one = SharedCounters.create(tmp_path)
    one.record(200, 1000)
    one.record(304, 0)
    one.record(304, 0)
    # Another process, as a worker is: its counts are in its own file, read while it lives and after.
    script = ("import sys; from pathlib import Path; from feeds.serving.health import SharedCounters; "
              "c = SharedCounters.create(Path(sys.argv[1])); c.record(404, 10); c.record(200, 5)")
    subprocess.run([sys.executable, "-c", script, str(tmp_path)], check=True, timeout=DEADLINE,
                   env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)})
    assert read_shared_counters(tmp_path) == ({"200": 2, "304": 2, "404": 1}, 1015)
    one.record(200, 1)   # seen at once: the file is the memory the worker writes
    assert read_shared_counters(tmp_path) == ({"200": 3, "304": 2, "404": 1}, 1016)


def test_public_is_served_by_workers_and_the_service_by_one_process(tmp_path):
    token = "t" * 24
    (tmp_path / "feedpub.toml").write_text(
        f'[schedule]\nrebuild_minutes = 60\n[server]\nworkers = 2\n[api]\ntoken = "{token}"\n', encoding="utf-8")
    served = Served(tmp_path)
    try:
        feed = served.get("/rss.xml")
        assert feed.status_code == 200 and feed.headers["Server"] == "granian"
        workers = wait_for(lambda: workers_of(served.process.pid) if len(workers_of(served.process.pid)) == 2 else None)
        # The jobs run in the serve process: status.json names it, not a worker.
        status = json.loads((tmp_path / "data" / "status.json").read_text())
        assert status["pid"] == served.process.pid and {"watch-store", "rebuild"} <= {j["id"] for j in status["jobs"]}
        # The ingest API is answered by the serve process through a worker, headers and body both ways.
        created = requests.post(served.url + "/api/articles", timeout=5, headers={"Authorization": f"Bearer {token}"},
                                json={"title": "Lewat Pekerja", "body": "BATURAJA - OKES.NEWS - Isi berita."})
        assert created.status_code == 201, created.text
        location = created.headers["Location"]   # the id percent-encoded: passed on as it came
        assert location.startswith("/api/articles/tag%3A")
        assert requests.get(served.url + location, timeout=5).status_code == 401
        fetched = requests.get(served.url + location, headers={"Authorization": f"Bearer {token}"}, timeout=5)
        assert fetched.status_code == 200 and fetched.json()["title"] == "Lewat Pekerja"
        wait_for(lambda: "Lewat Pekerja" in served.get("/atom.xml").text)
        # A worker that dies is replaced; what it counted stays counted.
        before = parse(served.get("/metrics").text)['feedpub_http_requests_total{status="200"}']
        os.kill(min(workers), signal.SIGKILL)
        wait_for(lambda: len(workers_of(served.process.pid) - workers) == 1)
        assert all(served.get("/rss.xml").status_code == 200 for _ in range(20))
        after = parse(served.get("/metrics").text)['feedpub_http_requests_total{status="200"}']
        assert after == before + 20
    finally:
        assert served.stop() == 0
    assert workers_of(served.process.pid) == set()
    assert "Traceback" not in served.process.stderr.read()


def running(pid: int) -> bool:
    """Whether ``pid`` still runs. An ended worker whose serve process is gone is a zombie
    until the init process reaps it, which a container's init may do late: its /proc entry
    stays, but it runs nothing and holds no socket."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_workers_end_when_the_serve_process_is_killed(tmp_path):
    (tmp_path / "feedpub.toml").write_text('[schedule]\nrebuild_minutes = 60\n', encoding="utf-8")
    served = Served(tmp_path)
    try:
        assert served.get("/rss.xml").status_code == 200
        workers = wait_for(lambda: workers_of(served.process.pid) if len(workers_of(served.process.pid)) == 2 else None)
    finally:
        served.process.kill()          # no chance to stop anything
        served.process.wait(timeout=DEADLINE)
    wait_for(lambda: not any(running(pid) for pid in workers))
    with pytest.raises(requests.ConnectionError):   # nothing holds the address any more
        requests.get(served.url + "/rss.xml", timeout=2)


@pytest.mark.parametrize("answer", [
    b"",                                                             # gone before answering
    b"HTTP/1.1 20",                                                  # gone inside the status line
    b"HTTP/1.1 201 Created\r\nContent-Length: 400\r\n\r\n{\"id\": ",   # gone halfway through the body
])
def test_a_serve_process_gone_mid_answer_is_a_502_not_an_error(tmp_path, answer):
    """A worker passing /api on to a serve process that dies (SIGKILL) before or while it
    answers says so with a 502: an exception out of the app would be granian's bare 500."""
    from feeds.serving.workers import forward

    path = str(tmp_path / "service.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(1)

    def die_while_answering() -> None:
        connection, _ = listener.accept()
        connection.recv(65536)
        connection.sendall(answer)
        connection.close()

    upstream = threading.Thread(target=die_while_answering)
    upstream.start()
    body = b'{"title": "x"}'
    environ = {"REQUEST_METHOD": "POST", "PATH_INFO": "/api/articles", "CONTENT_LENGTH": str(len(body)),
               "CONTENT_TYPE": "application/json", "REMOTE_ADDR": "127.0.0.1"}
    code, _, got = forward(environ, path, body)
    upstream.join()
    listener.close()
    assert code == 502
    assert got == b"The service is not answering\n"


TOKEN = "t" * 24
SLOW_EACH = 16   # slow connections on each service path


def slow(port: int, method: str, path: str, *headers: str) -> socket.socket:
    """A connection that sends a request declaring a 1,000-byte body, one byte of it, and
    then nothing: what held a worker's only Python thread until the client left."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=DEADLINE)
    extra = "".join(f"{header}\r\n" for header in headers)
    sock.sendall(f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{extra}Content-Type: application/json\r\n"
                 "Content-Length: 1000\r\n\r\n{".encode())
    return sock


def status_of(sock: socket.socket) -> int:
    """The status of the answer on ``sock`` (a timeout raises: no answer)."""
    head = b""
    while b"\r\n" not in head:
        chunk = sock.recv(4096)
        if not chunk:
            break
        head += chunk
    return int(head.split(b" ", 2)[1])


@pytest.mark.parametrize("api", ["on", "off"])
def test_slow_request_bodies_on_the_service_paths_never_hold_up_public_documents(tmp_path, api):
    (tmp_path / "feedpub.toml").write_text(
        "[schedule]\nrebuild_minutes = 60\n" + (f'[api]\ntoken = "{TOKEN}"\n' if api == "on" else ""),
        encoding="utf-8")
    served = Served(tmp_path)
    port = int(served.url.rsplit(":", 1)[1])
    unread = {("GET", "/healthz"): 200, ("GET", "/metrics"): 200, ("POST", "/api/articles"): 401 if api == "on" else 404}
    connections = []
    try:
        for (method, path) in unread:
            connections += [(slow(port, method, path), unread[method, path]) for _ in range(SLOW_EACH)]
        # With the API on, bodies the API would read: at most two a worker are read, the rest get 503.
        authorised = [slow(port, "POST", "/api/articles", f"Authorization: Bearer {TOKEN}")
                      for _ in range(SLOW_EACH if api == "on" else 0)]
        expected = (tmp_path / "public" / "rss.xml").read_bytes()
        polls = [requests.get(served.url + "/rss.xml", timeout=DEADLINE) for _ in range(20)]
        assert all(poll.status_code == 200 and poll.content == expected for poll in polls)
        # A body no answer depends on is never waited for: those clients have their answers.
        assert [status_of(sock) for sock, _ in connections] == [status for _, status in connections]
        assert served.get("/healthz").status_code == 200 and served.get("/metrics").status_code == 200
    finally:
        for sock, _ in connections:
            sock.close()
        for sock in authorised if api == "on" else []:
            sock.close()
        assert served.stop() == 0
    assert "Traceback" not in served.process.stderr.read()


def test_a_body_the_api_would_read_gets_408_when_it_does_not_arrive_in_time(tmp_path):
    (tmp_path / "feedpub.toml").write_text(
        f'[schedule]\nrebuild_minutes = 60\n[server]\nworkers = 1\n[api]\ntoken = "{TOKEN}"\nbody_timeout_seconds = 1\n',
        encoding="utf-8")
    served = Served(tmp_path)
    port = int(served.url.rsplit(":", 1)[1])
    auth = f"Authorization: Bearer {TOKEN}"
    connections = []
    try:
        # The worker reads two bodies at once: a third is turned away at once, the two get 408.
        connections = [slow(port, "POST", "/api/articles", auth) for _ in range(3)]
        assert sorted(status_of(sock) for sock in connections) == [408, 408, 503]
        assert served.get("/rss.xml").status_code == 200
        for sock in connections:   # once the clients go, their threads are free for the next bodies
            sock.close()
        created = wait_for(lambda: (lambda r: r if r.status_code == 201 else None)(requests.post(
            served.url + "/api/articles", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=DEADLINE,
            json={"title": "Tepat Waktu", "body": "BATURAJA - OKES.NEWS - Isi berita."})))
        assert created.json()["title"] == "Tepat Waktu"
    finally:
        for sock in connections:
            sock.close()
        assert served.stop() == 0


def test_workers_answer_public_documents_as_the_wsgi_app_does(tmp_path):
    """The workers answer past granian's WSGI call (feeds/serving/workers.py): every kind of
    answer is still the one PublicFiles gives over the same folder, and counted."""
    (tmp_path / "feedpub.toml").write_text(
        '[schedule]\nrebuild_minutes = 60\n[server]\nworkers = 1\ngone = ["/old.xml"]\n', encoding="utf-8")
    served = Served(tmp_path)
    try:
        config = load_config(tmp_path / "feedpub.toml")
        app = PublicFiles(tmp_path / "public", max_age=3600, hubs=config.site.hubs, base_url=served.url,
                          gone=config.gone)
        etag = served.get("/rss.xml", **{"Accept-Encoding": "identity"}).headers["ETag"]
        asked = [("GET", "/rss.xml", {}), ("HEAD", "/rss.xml", {}), ("GET", "/rss.xml", {"If-None-Match": etag}),
                 ("GET", "/rss.xml", {"Accept-Encoding": "gzip"}), ("GET", "/rss.xml", {"Accept": "text/html"}),
                 ("HEAD", "/atom.xml", {"Accept-Encoding": "br", "If-None-Match": '"other"'}),
                 ("GET", "/old.xml", {}), ("GET", "/nothing.xml", {}), ("POST", "/rss.xml", {}),
                 ("GET", "/rss.xml.gz", {})]
        session = requests.Session()
        before = parse(served.get("/metrics").text)
        for method, path, headers in asked:
            request = session.prepare_request(requests.Request(method, served.url + path,
                                                               headers={"Accept-Encoding": "identity", **headers}))
            got = session.send(request, stream=True, timeout=5)
            body = got.raw.read(decode_content=False)
            environ = {"REQUEST_METHOD": method, "PATH_INFO": path, "REMOTE_ADDR": "127.0.0.1",
                       **{"HTTP_" + name.upper().replace("-", "_"): value for name, value in request.headers.items()}}
            code, _status, headers_wanted, body_wanted = app.answer(environ)
            assert (got.status_code, body) == (code, body_wanted), (method, path, headers)
            assert [(name, got.headers.get(name)) for name, _ in headers_wanted] == headers_wanted, (method, path)
        after = parse(served.get("/metrics").text)   # /metrics counts no request for itself
        for code, count in {"200": 5, "304": 1, "404": 2, "405": 1, "410": 1}.items():
            key = f'feedpub_http_requests_total{{status="{code}"}}'
            assert after.get(key, 0) - before.get(key, 0) == count, code
    finally:
        assert served.stop() == 0
