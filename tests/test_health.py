"""/healthz and /metrics: the pure decision, the counting, the service's figures, the real process."""

from __future__ import annotations

import re
import threading
from datetime import datetime, timedelta, timezone

import pytest
import requests

from feeds.serving.health import Counters, Observed, ServiceFigures, health, metrics
from feeds.serving.server import PublicFiles
from scheduler import Service
from feedpub.settings import load_config

from .conftest import SAMPLE, RunningServer
from .harness import Served
from .test_websub import Hub

NOW = datetime(2024, 9, 18, 8, 0, tzinfo=timezone.utc)


def figures(**changes) -> ServiceFigures:
    values = dict(now=NOW, rebuild_seconds=900.0, store_reachable=True, last_build_at=NOW - timedelta(seconds=30),
                  last_build_seconds=0.25, builds_total=4, documents_written_total=9,
                  hub_notifications={"delivered": 3, "retrying": 1, "failed": 0})
    return ServiceFigures(**(values | changes))


# --- /healthz: the decision -------------------------------------------------------------------

def test_healthy():
    status, body = health(figures())
    assert status == 200 and body["status"] == "ok" and body["problems"] == []
    assert body["last_build_age_seconds"] == 30 and body["store_reachable"] is True
    assert body["last_build_error"] is None and body["max_build_age_seconds"] == 2700


@pytest.mark.parametrize(("changes", "problem"), [
    ({"last_build_error": "public/rss.xml: cannot write: No space left"}, "last build failed: public/rss.xml"),
    ({"last_build_at": NOW - timedelta(seconds=2701)}, "last build is 2701 s old"),
    ({"store_reachable": False, "store_error": "OperationalError: disk I/O error"}, "store unreachable: Operational"),
    ({"last_build_at": None, "last_build_seconds": None}, "no build yet"),
])
def test_unhealthy(changes, problem):
    status, body = health(figures(**changes))
    assert status == 503 and body["status"] == "failing"
    assert any(found.startswith(problem) for found in body["problems"]), body["problems"]


def test_three_intervals_exactly_is_still_healthy():
    assert health(figures(last_build_at=NOW - timedelta(seconds=2700)))[0] == 200


def test_starting():
    assert health(None) == (503, {"status": "starting", "problems": ["the service is starting"]})


# --- /metrics: the exposition ------------------------------------------------------------------

SAMPLE_LINE = re.compile(r'^[a-z_]+(\{[a-z]+="[^"]*"(,[a-z]+="[^"]*")*\})? -?[0-9.e+-]+$')


def parse(text: str) -> dict[str, float]:
    """name{labels} -> value; every line checked against the text format (0.0.4)."""
    assert text.endswith("\n")
    samples, typed = {}, set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            name, kind = line.split()[2:]
            assert kind in ("counter", "gauge") and name not in typed
            typed.add(name)
        elif not line.startswith("# HELP "):
            assert SAMPLE_LINE.match(line), line
            key, value = line.rsplit(" ", 1)
            assert key.split("{")[0] in typed, f"{line}: no TYPE line before it"
            samples[key] = float(value)
    return samples


def test_metrics_text():
    samples = parse(metrics(figures(build_failures_total=2), {"200": 7, "304": 5, "404": 1}, 12345))
    assert samples == {
        "feedpub_builds_total": 4,
        "feedpub_build_failures_total": 2,
        "feedpub_build_seconds": 0.25,
        "feedpub_last_build_timestamp_seconds": (NOW - timedelta(seconds=30)).timestamp(),
        "feedpub_documents_written_total": 9,
        'feedpub_hub_notifications_total{outcome="delivered"}': 3,
        'feedpub_hub_notifications_total{outcome="failed"}': 0,
        'feedpub_hub_notifications_total{outcome="retrying"}': 1,
        'feedpub_http_requests_total{status="200"}': 7,
        'feedpub_http_requests_total{status="304"}': 5,
        'feedpub_http_requests_total{status="404"}': 1,
        "feedpub_http_response_bytes_total": 12345,
    }


def test_metrics_before_the_service_is_up():
    samples = parse(metrics(None, {}, 0))
    assert samples["feedpub_builds_total"] == 0 and "feedpub_build_seconds" not in samples


def test_counters_lose_nothing_across_threads():
    counters = Counters()

    def work():
        for _ in range(5000):
            counters.record("200", 3)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert counters.snapshot() == ({"200": 40000}, 120000)


# --- over HTTP -------------------------------------------------------------------------------

@pytest.fixture
def observed(tmp_path):
    public = tmp_path / "public"
    public.mkdir()
    (public / "rss.xml").write_bytes(b"<rss>" + b"x" * 995 + b"</rss>")   # 1006 bytes
    state = {"figures": None}
    app = Observed(PublicFiles(public, max_age=60), lambda: state["figures"])
    running = RunningServer(app)
    running.state = state
    yield running
    running.stop()


def test_responses_are_counted_by_status_with_their_bytes(observed):
    url = observed.url
    first = requests.get(url + "/rss.xml", headers={"Accept-Encoding": "identity"}, timeout=5)
    requests.get(url + "/rss.xml", headers={"If-None-Match": first.headers["ETag"], "Accept-Encoding": "identity"},
                 timeout=5)
    requests.head(url + "/rss.xml", timeout=5)
    requests.get(url + "/missing.xml", timeout=5)
    requests.delete(url + "/rss.xml", timeout=5)
    requests.get(url + "/healthz", timeout=5)   # not counted
    samples = parse(requests.get(url + "/metrics", timeout=5).text)
    assert {key: value for key, value in samples.items() if key.startswith("feedpub_http_requests_total")} == {
        'feedpub_http_requests_total{status="200"}': 2,   # GET and HEAD
        'feedpub_http_requests_total{status="304"}': 1,
        'feedpub_http_requests_total{status="404"}': 1,
        'feedpub_http_requests_total{status="405"}': 1,
    }
    assert samples["feedpub_http_response_bytes_total"] == 1006 + len(b"Not found\n") + len(b"Method not allowed\n")


def test_healthz_over_http(observed):
    starting = requests.get(observed.url + "/healthz", timeout=5)
    assert starting.status_code == 503 and starting.json()["status"] == "starting"
    assert starting.headers["Cache-Control"] == "no-store"
    observed.state["figures"] = figures()
    ok = requests.get(observed.url + "/healthz", timeout=5)
    assert ok.status_code == 200 and ok.headers["Content-Type"] == "application/json"
    assert ok.json()["last_build_age_seconds"] == 30
    observed.state["figures"] = figures(last_build_error="boom")
    assert requests.get(observed.url + "/healthz", timeout=5).status_code == 503
    metrics_response = requests.get(observed.url + "/metrics", timeout=5)
    assert metrics_response.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert requests.post(observed.url + "/metrics", timeout=5).status_code == 405


# --- the service's figures ---------------------------------------------------------------------

def service_for(tmp_path, store, *, output=None, hubs=(), clock=lambda: NOW):
    hub_list = ", ".join(f'"{hub}"' for hub in hubs)
    (tmp_path / "feedpub.toml").write_text(
        f'[site]\nbase_url = "https://okes.example"\n[output]\npath = "{output or tmp_path / "public"}"\n'
        f'[store]\npath = "{tmp_path / "data" / "feedpub.sqlite3"}"\n[schedule]\nrebuild_minutes = 1\n'
        f'[websub]\nhubs = [{hub_list}]\nretries = 1\ntimeout_seconds = 2\n', encoding="utf-8")
    return Service(load_config(tmp_path / "feedpub.toml"), store, clock=clock)


def test_the_service_reports_builds_and_documents(tmp_path, store, ingest):
    ingest(SAMPLE)
    moment = {"now": NOW}
    service = service_for(tmp_path, store, clock=lambda: moment["now"])
    assert health(service.figures())[1]["problems"] == ["no build yet"]
    first = service.build_now("test")
    again = service.build_now("test again")   # nothing changed: nothing written
    found = service.figures()
    assert (found.builds_total, found.build_failures_total) == (2, 0)
    assert again.written == () and found.documents_written_total == len(first.written) > 0
    assert found.last_build_at == NOW and found.store_reachable
    assert health(found)[0] == 200
    moment["now"] = NOW + timedelta(minutes=3, seconds=1)   # three rebuild intervals of a minute
    assert health(service.figures())[0] == 503


def test_a_failed_build_is_counted_and_unhealthy(tmp_path, store, ingest):
    ingest(SAMPLE)
    (tmp_path / "blocker").write_text("a file where the output folder should be")
    service = service_for(tmp_path, store, output=tmp_path / "blocker" / "public")
    assert service.build_now("test") is None
    found = service.figures()
    assert found.build_failures_total == 1 and found.builds_total == 0 and found.last_build_error
    assert health(found)[0] == 503


def test_hub_outcomes_are_counted(tmp_path, store, ingest):
    ingest(SAMPLE)
    hub = Hub(fail_first=3)   # atom, json, rss: each first attempt refused
    try:
        service = service_for(tmp_path, store, hubs=[hub.url])
        service.build_now("test")   # not started: each notification is tried once, here
        assert service.figures().hub_notifications == {"delivered": 0, "retrying": 3, "failed": 0}
        for delivery in list(service.deliveries.values()):
            service.deliver(delivery)   # the retry: accepted
        assert service.figures().hub_notifications == {"delivered": 3, "retrying": 3, "failed": 0}
    finally:
        hub.close()


def test_a_store_that_does_not_answer_is_reported(tmp_path, store, ingest):
    service = service_for(tmp_path, store)
    store.close()
    found = service.figures()
    assert found.store_reachable is False and found.store_error
    assert "store unreachable" in health(found)[1]["problems"][0]


# --- the real process -----------------------------------------------------------------------------

def test_feedpub_serve_answers_healthz_metrics_and_retired_paths(tmp_path):
    (tmp_path / "feedpub.toml").write_text(
        '[schedule]\nrebuild_minutes = 60\n[server]\ngone = ["/old.xml"]\nmoved = { "/rss2.xml" = "/rss.xml" }\n',
        encoding="utf-8")
    served = Served(tmp_path)
    try:
        healthz = served.get("/healthz")
        assert healthz.status_code == 200, healthz.text
        assert healthz.json()["store_reachable"] is True and healthz.json()["last_build_error"] is None
        feed = served.get("/rss.xml", **{"Accept-Encoding": "br"})
        assert feed.headers["Content-Encoding"] == "br" and b"<rss" in feed.content
        assert served.get("/old.xml").status_code == 410
        moved = requests.get(served.url + "/rss2.xml", allow_redirects=False, timeout=5)
        assert moved.status_code == 301 and moved.headers["Location"] == served.url + "/rss.xml"
        samples = parse(served.get("/metrics").text)
        assert samples["feedpub_builds_total"] >= 1 and samples["feedpub_documents_written_total"] >= 7
        assert samples['feedpub_http_requests_total{status="200"}'] == 1
        assert samples['feedpub_http_requests_total{status="410"}'] == 1
        assert samples['feedpub_http_requests_total{status="301"}'] == 1
        sent = int(feed.headers["Content-Length"]) + len(b"Gone: this feed was retired\n") + len(moved.content)
        assert samples["feedpub_http_response_bytes_total"] == sent
    finally:
        assert served.stop() == 0
