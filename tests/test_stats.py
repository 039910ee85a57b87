"""Subscriber statistics: aggregators' reported counts, clients, 304 share, over-eager pollers."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
import requests

from feeds.serving.stats import reported_subscribers, summarise

from .harness import FEEDPUB, Served, wait_for

AGENTS = Path(__file__).resolve().parent / "data" / "user-agents"
FORMS = {path.stem: json.loads(path.read_text(encoding="utf-8")) for path in sorted(AGENTS.glob("*.json"))}
FEEDLY = "Feedly/1.0 (+http://www.feedly.com/fetcher.html; 123 subscribers; )"
INOREADER = "Inoreader/1.0 (+http://www.inoreader.com/feed-fetcher; 45 subscribers; )"
NEWSBLUR = "NewsBlur Feed Fetcher - 67 subscribers - https://www.newsblur.com/site/123 (Mozilla/5.0)"


@pytest.mark.parametrize(("agent", "expected"), [
    (FEEDLY, ("Feedly", 123)), (INOREADER, ("Inoreader", 45)), (NEWSBLUR, ("NewsBlur", 67)),
    ("Tiny Tiny RSS/21.0 (12 subscribers)", ("Tiny Tiny RSS", 12)), ("newsboat/2.21", None), ("", None),
    ("Mozilla/5.0 (compatible; BazQux/2.4; +https://bazqux.com/fetcher; 1,204 subscribers)", ("BazQux", 1204)),
    ("Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0", None),
])
def test_subscribers_reported_in_user_agents(agent, expected):
    assert reported_subscribers(agent) == expected


@pytest.mark.parametrize("form", sorted(FORMS))
def test_every_documented_form_is_read_as_its_reader_with_its_count(form):
    fixture = FORMS[form]
    assert reported_subscribers(fixture["user_agent"]) == (fixture["reader"], fixture["subscribers"])


def test_each_of_a_readers_feeds_counts_and_a_reader_without_a_count_is_one_per_instance():
    feedbin = FORMS["feedbin"]["user_agent"]
    rows = [
        (0.0, "atom.xml", 200, 10, feedbin, "10.0.0.1"),
        (10.0, "atom.xml", 200, 10, feedbin.replace("1234", "5678").replace("45 ", "5 "), "10.0.0.1"),  # its https feed
        (20.0, "atom.xml", 304, 0, feedbin.replace("45 ", "46 "), "10.0.0.2"),   # the first feed, later: 46
        (30.0, "atom.xml", 200, 10, FORMS["miniflux"]["user_agent"], "192.0.2.1"),
        (40.0, "atom.xml", 200, 10, FORMS["miniflux"]["user_agent"], "192.0.2.1"),
        (50.0, "atom.xml", 200, 10, FORMS["miniflux"]["user_agent"], "198.51.100.7"),
        (60.0, "atom.xml", 200, 10, FORMS["inoreader"]["user_agent"], "10.0.0.3"),
        (70.0, "atom.xml", 200, 10, FORMS["inoreader"]["user_agent"].replace("7 ", "8 "), "10.0.0.4"),
    ]
    (atom,) = summarise(rows, max_age=900, since=0.0, until=3600.0)
    assert atom.subscribers == {"Feedbin": 46 + 5, "Miniflux": 2, "Inoreader": 8}
    assert atom.other_clients == 0


def test_polls_per_hour_are_over_the_span_the_log_covers_not_the_whole_window():
    day = 24 * 3600.0
    # A server started half an hour ago: 30 polls, one a minute, in a 24 hour window.
    rows = [(day - 1800.0 + 60.0 * n, "rss.xml", 304, 0, "newsboat/2.21", "10.0.0.2") for n in range(31)]
    (rss,) = summarise(rows, max_age=900, since=0.0, until=day)
    assert rss.observed_hours == 0.5
    assert rss.polls_per_hour == 62.0


def test_summary_counts_polls_304s_bytes_and_flags_clients_polling_too_often():
    rows = [
        (0.0, "rss.xml", 200, 1000, FEEDLY, "10.0.0.1"),
        (60.0, "rss.xml", 304, 0, FEEDLY.replace("123", "130"), "10.0.0.1"),
        *[(t * 10.0, "rss.xml", 304, 0, "greedy/1.0", "10.0.0.9") for t in range(6)],
        (5.0, "atom.xml", 200, 2000, "newsboat/2.21", "10.0.0.2"),
    ]
    atom, rss = summarise(rows, max_age=900, since=0.0, until=3600.0)
    assert (rss.polls, rss.not_modified, rss.bytes_sent, rss.subscribers) == (8, 7, 1000, {"Feedly": 130})
    assert rss.other_clients == 1 and rss.polls_per_hour == 8 * 60.0   # 8 polls in the one minute they span
    assert [flag["user_agent"] for flag in rss.flagged] == ["greedy/1.0"]
    assert (atom.polls, atom.other_clients, atom.flagged, atom.share_304) == (1, 1, [], 0.0)


def test_feedpub_stats_reads_what_the_running_server_recorded(tmp_path):
    (tmp_path / "feedpub.toml").write_text('[schedule]\nrebuild_minutes = 60\n', encoding="utf-8")
    served = Served(tmp_path)
    try:
        first = requests.get(served.url + "/rss.xml", headers={"User-Agent": FEEDLY}, timeout=5)
        requests.get(served.url + "/rss.xml", headers={"User-Agent": FEEDLY, "If-None-Match": first.headers["ETag"]},
                     timeout=5)
        requests.get(served.url + "/atom.xml", headers={"User-Agent": INOREADER}, timeout=5)
        requests.get(served.url + "/index.html", timeout=5)            # not a feed: not counted
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}

        def report():
            out = subprocess.run([*FEEDPUB, "stats", "--json"], cwd=tmp_path, capture_output=True, text=True, env=env)
            data = {feed["path"]: feed for feed in json.loads(out.stdout)}
            return data if sum(feed["polls"] for feed in data.values()) == 3 else None

        data = wait_for(report)
        assert data["rss.xml"]["subscribers"] == {"Feedly": 123} and data["rss.xml"]["share_304"] == 0.5
        assert data["atom.xml"]["subscribers_total"] == 45 and data["atom.xml"]["bytes_sent"] > 1000
        assert set(data) == {"rss.xml", "atom.xml"}
    finally:
        served.stop()


def test_feedpub_stats_reads_every_reader_by_its_name_from_a_running_server(tmp_path):
    (tmp_path / "feedpub.toml").write_text('[schedule]\nrebuild_minutes = 60\n', encoding="utf-8")
    one_each = ("feedly", "inoreader", "newsblur", "feedbin", "theoldreader", "feedspot", "miniflux")
    served = Served(tmp_path)
    try:
        for form in one_each:
            answer = requests.get(served.url + "/atom.xml", headers={"User-Agent": FORMS[form]["user_agent"]}, timeout=5)
            assert answer.status_code == 200
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}

        def report():
            out = subprocess.run([*FEEDPUB, "stats", "--json"], cwd=tmp_path, capture_output=True, text=True, env=env)
            data = {feed["path"]: feed for feed in json.loads(out.stdout)}
            return data if data.get("atom.xml", {}).get("polls") == len(one_each) else None

        atom = wait_for(report)["atom.xml"]
        assert atom["subscribers"] == {FORMS[form]["reader"]: FORMS[form]["subscribers"] for form in one_each}
        assert atom["other_clients"] == 0
        text = subprocess.run([*FEEDPUB, "stats"], cwd=tmp_path, capture_output=True, text=True, env=env).stdout
        assert "Inoreader 7" in text and "Mozilla" not in text and "polls recorded over" in text
    finally:
        served.stop()


def test_a_damaged_poll_log_is_a_named_error(tmp_path, monkeypatch, capsys):
    from feedpub.cli import main

    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "stats.sqlite3").write_text("not a database " * 200)
    assert main(["stats"]) == 1
    assert "data/stats.sqlite3: cannot read the poll log" in capsys.readouterr().err


# (status, body sent) as the server hands them to the poll log with each poll (feeds/serving/server.py).
NOT_MODIFIED = (304, b"")
WHOLE = (200, b"x" * 1000)
REBUILT = (200, b"y" * 1200)


def test_polls_alike_share_a_row_and_still_count_one_by_one(tmp_path):
    """A burst from one client in one second is one row with its count; the report is the same
    as for one row per poll, and the burst is flagged. Polls are dated when the poll log
    takes them from its queue."""
    from feeds.serving.stats import PollLog, SQLitePolls

    moments = iter([100.9, 101.5, 400.0])
    log = PollLog(lambda: SQLitePolls(tmp_path / "stats.sqlite3"), clock=lambda: next(moments))
    for _ in range(4):
        log.append(("rss.xml", *NOT_MODIFIED, "greedy/1.0", "10.0.0.9"))
    assert log.drain() == 4
    log.append(("rss.xml", *WHOLE, "greedy/1.0", "10.0.0.9"))
    assert log.drain() == 1
    log.append(("rss.xml", *WHOLE, "newsboat/2.21", "10.0.0.2"))
    assert log.flush() == 6
    rows = SQLitePolls(tmp_path / "stats.sqlite3", create=False).polls_since(0.0)
    assert rows == [(100.0, "rss.xml", 304, 0, "greedy/1.0", "10.0.0.9", 4),
                    (101.0, "rss.xml", 200, 1000, "greedy/1.0", "10.0.0.9", 1),
                    (400.0, "rss.xml", 200, 1000, "newsboat/2.21", "10.0.0.2", 1)]
    one_by_one = [(t, "rss.xml", 304, 0, "greedy/1.0", "10.0.0.9") for t in (100.0, 100.0, 100.0, 100.0)]
    one_by_one += [(101.0, "rss.xml", 200, 1000, "greedy/1.0", "10.0.0.9"),
                   (400.0, "rss.xml", 200, 1000, "newsboat/2.21", "10.0.0.2")]
    (grouped,) = summarise(rows, max_age=900, since=0.0, until=3600.0)
    (single,) = summarise(one_by_one, max_age=900, since=0.0, until=3600.0)
    assert grouped == single
    assert (grouped.polls, grouped.not_modified, grouped.bytes_sent, grouped.other_clients) == (6, 4, 2000, 2)
    assert [(flag["user_agent"], flag["polls"], flag["median_interval_seconds"]) for flag in grouped.flagged] == [
        ("greedy/1.0", 5, 0.0)]


def test_polls_alike_but_interleaved_with_others_still_share_a_row(tmp_path):
    """Two clients taking turns in one second are a row each, and a feed whose size changed
    within the second (a build in between) adds both sizes to its row; polls of one second
    taken by two drains meet in one row too."""
    from feeds.serving.stats import PollLog, SQLitePolls

    log = PollLog(lambda: SQLitePolls(tmp_path / "stats.sqlite3"), clock=lambda: 200.7)
    for _ in range(3):
        log.append(("rss.xml", *WHOLE, "newsboat/2.21", "10.0.0.2"))
        log.append(("rss.xml", *NOT_MODIFIED, "greedy/1.0", "10.0.0.9"))
    assert log.drain() == 6
    log.append(("rss.xml", *REBUILT, "newsboat/2.21", "10.0.0.2"))
    assert log.flush() == 7
    rows = SQLitePolls(tmp_path / "stats.sqlite3", create=False).polls_since(0.0)
    assert sorted(rows) == [(200.0, "rss.xml", 200, 4200, "newsboat/2.21", "10.0.0.2", 4),
                            (200.0, "rss.xml", 304, 0, "greedy/1.0", "10.0.0.9", 3)]


def test_a_long_client_address_is_cut_when_written(tmp_path):
    """The server hands the peer's address as it is; the row keeps CLIENT_KEPT characters of it."""
    from feeds.serving.stats import CLIENT_KEPT, PollLog, SQLitePolls

    log = PollLog(lambda: SQLitePolls(tmp_path / "stats.sqlite3"), clock=lambda: 300.0)
    log.append(("rss.xml", *NOT_MODIFIED, "newsboat/2.21", "f" * 200))
    assert log.flush() == 1
    (row,) = SQLitePolls(tmp_path / "stats.sqlite3", create=False).polls_since(0.0)
    assert row[5] == "f" * CLIENT_KEPT


def test_a_poll_log_from_before_counts_is_read_as_one_poll_a_row(tmp_path):
    import sqlite3

    from feeds.serving.stats import SQLitePolls

    path = tmp_path / "stats.sqlite3"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE polls (at REAL NOT NULL, path TEXT NOT NULL, status INTEGER NOT NULL, "
                   "bytes INTEGER NOT NULL, user_agent TEXT NOT NULL, client TEXT NOT NULL)")
        db.execute("INSERT INTO polls VALUES (5.0, 'atom.xml', 200, 2000, 'newsboat/2.21', '10.0.0.2')")
    db.close()
    SQLitePolls(path)
    assert SQLitePolls(path, create=False).polls_since(0.0) == [(5.0, "atom.xml", 200, 2000, "newsboat/2.21", "10.0.0.2", 1)]
