"""One leader among the instances of a shared store (PostgreSQL): it alone pings the WebSub
hub, records releases and polls partner feeds; when it is killed, another takes over.

Two real `feedpub serve` processes share one database, with a real hub and a real partner
feed on 127.0.0.1 (one small HTTP server for both). When the hub hears of a topic, it
fetches that topic from every instance still running, as a hub behind the load balancer
would: each must already answer with the same bytes.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import threading
import time
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from feedpub.settings import utc_now

from .conftest import free_port
from .harness import Served, run_feedpub, stop_all, wait_for

BASE_URL = "https://okes.example"
POLL_MINUTES = 0.1   # the partner feed is polled every 6 s
PARTNER_FEED = (b'<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel><title>Mitra</title>'
                b'<link>https://mitra.example/</link><description>Mitra</description></channel></rss>\n')


class HubAndPartner:
    """A WebSub hub (POST /hub) and a partner's feed (GET /partner.xml), recording both.

    On each publish notification the hub fetches the topic from every instance in
    ``instances`` (their URLs) and records whether they all answered the same bytes."""

    def __init__(self):
        self.pings: list[tuple[str, bool]] = []   # (topic path, every instance answered the same)
        self.polls: list[float] = []               # monotonic times of the partner feed's polls
        self.instances: list[str] = []
        self.answers: list = []                    # (time, path, instance -> (status, digest)) of each ping
        self.unanswered: set[str] = set()          # instances that refused the hub's fetch
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                form = parse_qs(self.rfile.read(int(self.headers.get("Content-Length", 0))).decode())
                path = urlsplit(form["hub.url"][0]).path
                answers = {}
                for url in list(outer.instances):
                    try:
                        answer = requests.get(url + path, timeout=10)
                        answers[url] = (answer.status_code, hashlib.sha256(answer.content).hexdigest()[:12])
                    except requests.ConnectionError:   # an instance the test killed
                        outer.unanswered.add(url)
                outer.pings.append((path, len(set(answers.values())) == 1))
                outer.answers.append((time.time(), path, answers))
                self.send_response(204)
                self.end_headers()

            def do_GET(self):
                outer.polls.append(time.monotonic())
                self.send_response(200)
                self.send_header("Content-Type", "application/rss+xml")
                self.send_header("Content-Length", str(len(PARTNER_FEED)))
                self.end_headers()
                self.wfile.write(PARTNER_FEED)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def pinged(self, path: str) -> int:
        return sum(1 for topic, _ in self.pings if topic == path)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hub():
    running = HubAndPartner()
    yield running
    running.close()


def site_folder(folder: Path, hub: HubAndPartner) -> Path:
    folder.mkdir(parents=True)
    (folder / "feedpub.toml").write_text(
        f'[site]\nbase_url = "{BASE_URL}"\n[schedule]\nrebuild_minutes = 60\n[server]\nworkers = 1\n'
        f'[output]\npath = "{folder / "public"}"\n[store]\npath = "{folder / "data" / "feedpub.sqlite3"}"\n'
        f'[websub]\nhubs = ["{hub.url}/hub"]\nretries = 0\n'
        f'[[sources]]\nname = "Mitra"\nurl = "{hub.url}/partner.xml"\ninterval_minutes = {POLL_MINUTES}\n',
        encoding="utf-8")
    return folder


def status(folder: Path) -> dict:
    try:
        return json.loads((folder / "data" / "status.json").read_bytes())
    except (OSError, ValueError):
        return {}


def built(folder: Path) -> int | None:
    return (status(folder).get("last_build") or {}).get("revision")


def run(folder: Path, *args: str) -> str:
    return run_feedpub(folder, *args).stdout


def article(folder: Path, slug: str, words: str, *, published: datetime | None = None) -> Path:
    path = folder / f"{slug}.txt"
    when = f"published: {published.isoformat()}\n" if published else ""
    path.write_text(f"---\ntitle: {words}\n{when}---\nBATURAJA - OKES.NEWS - {words}.\n(*)\n", encoding="utf-8")
    return path


def polled_at_most_once_per_interval(polls: list[float]) -> None:
    gaps = [later - earlier for earlier, later in zip(polls, polls[1:])]
    # Measured where the requests arrive: each poll's time is taken before its request goes out,
    # which a loaded machine delays by a varying fraction of a second. Twice in one interval
    # would be a gap near zero.
    assert all(gap >= POLL_MINUTES * 60 * 0.8 for gap in gaps), gaps


@pytest.fixture
def instances(postgres_url, tmp_path, monkeypatch, hub):
    monkeypatch.setenv("FEEDPUB_STORE_URL", postgres_url)
    folders = [site_folder(tmp_path / name, hub) for name in ("a", "b")]
    ports = [free_port(), free_port()]
    hub.instances = [f"http://127.0.0.1:{port}" for port in ports]   # from the first ping on
    started = [Served(folder, port=port, wait=False, log=folder / "serve.log") for folder, port in zip(folders, ports)]
    try:
        for served in started:
            served.wait_until_serving()
        yield started
    finally:
        stop_all(started)


def leaders(folders: list[Path]) -> list[Path]:
    return [folder for folder in folders if status(folder).get("leader")]


def test_one_leader_pings_the_hub_once_per_change_after_every_instance_serves_it(instances, hub, tmp_path):
    from sources.store.postgres import PostgresStore

    folders = [served.cwd for served in instances]
    store = PostgresStore(os.environ["FEEDPUB_STORE_URL"], clock=utc_now)
    try:
        wait_for(lambda: len(leaders(folders)) == 1)
        wait_for(lambda: all(built(folder) == store.revision() for folder in folders))
        wait_for(lambda: hub.pinged("/atom.xml") == 1)   # the start's build, by the leader alone
        for number, words in enumerate(["Banjir rendam tiga desa", "Jembatan putus di Muara Enim",
                                        "Harga cabai naik"], start=2):
            run(folders[number % 2], "ingest", str(article(tmp_path, f"berita-{number}", words)))
            wait_for(lambda: all(built(folder) == store.revision() for folder in folders))
            wait_for(lambda: hub.pinged("/atom.xml") == number)
        time.sleep(3)   # a second ping of any change, if one were coming, would have come by now
        assert hub.pinged("/atom.xml") == 4
        assert all(same for _, same in hub.pings), hub.answers   # every instance served it when pinged
        assert not hub.unanswered
        assert len(leaders(folders)) == 1
        said = sorted(run(folder, "status") for folder in folders)
        assert ["the leader" in text for text in said].count(True) == 1, said
        assert ["a follower" in text for text in said].count(True) == 1, said
        polled_at_most_once_per_interval(hub.polls)
        assert len(hub.polls) >= 2
    finally:
        store.close()


def test_when_the_leader_is_killed_another_takes_over_and_the_embargo_lifts_on_time(instances, hub, tmp_path,
                                                                                    ingest_settings):
    from sources.ingest import ingest_paths
    from sources.store.postgres import PostgresStore

    folders = [served.cwd for served in instances]
    wait_for(lambda: len(leaders(folders)) == 1)
    leader = next(served for served in instances if served.cwd == leaders(folders)[0])
    follower = next(served for served in instances if served is not leader)
    release = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(seconds=6)
    # Straight into the store (a CLI process may take seconds to start on a loaded machine).
    store = PostgresStore(os.environ["FEEDPUB_STORE_URL"], clock=utc_now)
    try:
        ingest_paths(store, [article(tmp_path, "terembargo", "Hasil rapat diumumkan", published=release)],
                     settings=ingest_settings, now=utc_now, report=lambda _: None)
    finally:
        store.close()
    wait_for(lambda: built(leader.cwd) == built(follower.cwd) and "terembargo" in json.dumps(status(follower.cwd)))
    time.sleep(max(0.0, (release - datetime.now(timezone.utc)).total_seconds() - 3))

    hub.instances = [follower.url]
    leader.process.send_signal(signal.SIGKILL)
    leader.process.wait(timeout=10)
    killed = time.monotonic()
    pinged = hub.pinged("/atom.xml")
    if datetime.now(timezone.utc) < release - timedelta(seconds=1):
        assert b"Hasil rapat diumumkan" not in follower.get("/atom.xml").content   # never before its time
    wait_for(lambda: status(follower.cwd).get("leader"), timeout=10)
    assert time.monotonic() - killed <= 10

    wait_for(lambda: b"Hasil rapat diumumkan" in follower.get("/atom.xml").content)
    # The new leader recorded the release and pinged the hub for it, once the killed
    # instance had fallen silent (it is no longer waited for).
    wait_for(lambda: hub.pinged("/atom.xml") > pinged)
    assert all(same for _, same in hub.pings), hub.answers
    assert hub.unanswered <= {leader.url}
    polled_at_most_once_per_interval(hub.polls)


def test_the_lead_is_one_sessions_lock_and_is_taken_again_when_its_connection_is_lost(postgres_url):
    import psycopg

    from sources.store.postgres import PostgresStore

    store = PostgresStore(postgres_url, clock=utc_now)
    first, second = store.leadership("leader"), store.leadership("leader")
    try:
        assert first.held() and not second.held()
        assert first.held() and not second.held()    # asked again: still one holder
        with psycopg.connect(postgres_url, autocommit=True) as admin:   # the leader's session ends
            # An advisory lock's bigint key is two oids in pg_locks: its high and its low 32 bits.
            assert admin.execute(
                "WITH k AS (SELECT hashtextextended(current_schema() || ':leader', 0) AS key) "
                "SELECT bool_and(pg_terminate_backend(pid, 5000)) FROM pg_locks, k WHERE locktype = 'advisory' "
                "AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
                "AND classid = ((key >> 32) & 4294967295)::oid AND objid = (key & 4294967295)::oid").fetchone()[0]
        assert second.held()                          # the lock went with the session
        assert not first.held()                       # the old holder finds out, connects again, waits
        second.resign()
        assert first.held()                           # and takes it when it is free again
    finally:
        first.resign()
        second.resign()
        store.close()
