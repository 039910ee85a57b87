"""WebSub: feeds advertise their hubs, and a real hub on loopback hears of every change once."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import pytest
import requests
from lxml import etree

import scheduler
from feeds.building.build import render_documents
from scheduler import Service
from feedpub.settings import load_config

from .conftest import SAMPLE, RunningServer, free_port, write_article
from .harness import wait_for

ATOM = "{http://www.w3.org/2005/Atom}"


class Hub:
    """A minimal hub: records publish notifications; can refuse the first few."""

    def __init__(self, fail_first: int = 0):
        self.received: list[tuple[str, str]] = []
        self.fail_first = fail_first
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
                form = parse_qs(body)
                if hub.fail_first > 0:
                    hub.fail_first -= 1
                    self.send_response(503)
                    self.end_headers()
                    return
                hub.received.append((form["hub.mode"][0], form["hub.url"][0]))
                self.send_response(204)
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hub"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def topics(self) -> list[str]:
        return sorted(url for mode, url in self.received if mode == "publish")

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hub():
    running = Hub()
    yield running
    running.close()


def service_for(tmp_path, store, hubs, **websub):
    extra = "".join(f"{key} = {value}\n" for key, value in websub.items())
    hub_list = ", ".join(f'"{h}"' for h in hubs)
    (tmp_path / "feedpub.toml").write_text(
        f'[site]\nbase_url = "https://okes.example"\n[output]\npath = "{tmp_path / "public"}"\n'
        f'[store]\npath = "{tmp_path / "data" / "feedpub.sqlite3"}"\n'
        f"[websub]\nhubs = [{hub_list}]\n{extra}", encoding="utf-8")
    return Service(load_config(tmp_path / "feedpub.toml"), store)


FEEDS = ["https://okes.example/atom.xml", "https://okes.example/feed.json", "https://okes.example/rss.xml"]


def test_feeds_advertise_their_hubs(store, ingest, site):
    from dataclasses import replace

    ingest(SAMPLE)
    hubs = ("https://hub.example/", "https://hub2.example/")
    docs = {d.path: d.body for d in render_documents(store, replace(site, hubs=hubs), SAMPLE_TIME)}
    atom = etree.fromstring(docs["atom.xml"])
    assert [link.get("href") for link in atom.findall(f"{ATOM}link[@rel='hub']")] == list(hubs)
    rss = etree.fromstring(docs["rss.xml"])
    assert [link.get("href") for link in rss.findall(f"channel/{ATOM}link[@rel='hub']")] == list(hubs)
    assert b'"hubs": [' in docs["feed.json"]


def test_the_server_sends_hub_and_self_link_headers(tmp_path, store, ingest, site):
    from dataclasses import replace

    from feeds.building.build import build
    from feeds.serving.server import PublicFiles

    ingest(SAMPLE)
    build(store, replace(site, hubs=("https://hub.example/",)), tmp_path / "public", SAMPLE_TIME)
    server = RunningServer(PublicFiles(tmp_path / "public", max_age=60, hubs=("https://hub.example/",),
                                       base_url="https://okes.example"))
    try:
        response = requests.get(server.url + "/atom.xml", timeout=5)
        assert response.headers["Link"] == '<https://hub.example/>; rel="hub", <https://okes.example/atom.xml>; rel="self"'
        assert "Link" not in requests.get(server.url + "/index.html", timeout=5).headers
    finally:
        server.stop()


def test_exactly_the_changed_feeds_are_notified_once_each(tmp_path, store, ingest, hub):
    ingest(SAMPLE)
    service = service_for(tmp_path, store, [hub.url])
    service.start()
    try:
        service.build_now("start")
        wait_for(lambda: hub.topics() == FEEDS)
        hub.received.clear()
        service.build_now("nothing changed")
        time.sleep(0.5)
        assert hub.received == []
        ingest(write_article(tmp_path, "baru.txt", "Berita baru."), now=SAMPLE_TIME + timedelta(minutes=5))
        service.build_now("one new article")
        wait_for(lambda: hub.topics() == FEEDS)
        time.sleep(0.5)
        assert hub.topics() == FEEDS     # once each, no more
        status = service.status()
        assert {d["state"] for d in status["hubs"]} == {"delivered"}
    finally:
        service.stop()


def test_a_failing_hub_is_retried_with_backoff(tmp_path, store, ingest, monkeypatch):
    monkeypatch.setattr(scheduler, "backoff", lambda attempt: timedelta(milliseconds=200 * attempt))
    flaky = Hub(fail_first=6)   # the first two attempts of each of the three topics fail
    ingest(SAMPLE)
    service = service_for(tmp_path, store, [flaky.url])
    service.start()
    try:
        service.build_now("start")
        wait_for(lambda: flaky.topics() == FEEDS)
        deliveries = service.status()["hubs"]
        assert {d["state"] for d in deliveries} == {"delivered"}
        assert sum(d["attempts"] for d in deliveries) == 9
    finally:
        service.stop()
        flaky.close()


def test_a_hub_that_is_down_blocks_nothing_and_is_reported(tmp_path, store, ingest, monkeypatch):
    monkeypatch.setattr(scheduler, "backoff", lambda attempt: timedelta(milliseconds=100))
    dead = f"http://127.0.0.1:{free_port()}/hub"
    ingest(SAMPLE)
    service = service_for(tmp_path, store, [dead], retries=2, timeout_seconds=1.0)
    service.start()
    try:
        started = time.monotonic()
        report = service.build_now("start")
        assert report is not None and time.monotonic() - started < 1.0   # delivery happens elsewhere
        wait_for(lambda: {d["state"] for d in service.status()["hubs"]} == {"failed"})
        deliveries = service.status()["hubs"]
        assert all(d["attempts"] == 3 and "ConnectionError" in d["last_error"] for d in deliveries)
        assert (tmp_path / "public" / "atom.xml").exists()
    finally:
        service.stop()


SAMPLE_TIME = __import__("tests.conftest", fromlist=["INGEST_TIME"]).INGEST_TIME
