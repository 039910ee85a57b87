"""Feed polls read from nginx's access log, as `feedpub serve` follows it (``stats.access_log``):
every poll counted once, across rotations and restarts, in the poll records `feedpub stats` reads."""

from __future__ import annotations

import os

from feeds.serving.access_log import AccessLogFollower, as_rows
from feeds.serving.stats import SQLitePolls, summarise

FEEDLY = "Feedly/1.0 (+http://www.feedly.com/fetcher.html; 12 subscribers; )"


def line(status: int = 200, path: str = "/rss.xml", *, at: float = 1_700_000_000.5, agent: str = FEEDLY,
         sent: int = 31_000, method: str = "GET", client: str = "203.0.113.9") -> bytes:
    """One line as nginx writes it in feedpub's format (feeds/serving/nginx.py LOG_FORMAT)."""
    return f"{at:.3f}\t{status}\t{sent if status == 200 else 0}\t{client}\t{method}\t{path}\t{agent}\n".encode()


def follower(tmp_path):
    records = SQLitePolls(tmp_path / "stats.sqlite3")
    return AccessLogFollower(tmp_path / "feeds.log", lambda: records, tmp_path / "position.json"), records


def polls(records) -> int:
    return sum(row[-1] for row in records.polls_since(0))


def append(path, *lines: bytes) -> None:
    with open(path, "ab") as out:
        out.write(b"".join(lines))


def test_polls_are_recorded_as_feedpub_records_them(tmp_path):
    log = tmp_path / "feeds.log"
    append(log, line(200), line(304, at=1_700_000_060), line(304, at=1_700_000_120),
           line(404, "/category/nothing/rss.xml"), line(200, method="POST"),
           line(200, agent='Reader \\"quoted\\" \\t tab'))
    reader, records = follower(tmp_path)
    assert reader.step() == 4
    (report,) = summarise(records.polls_since(0), max_age=900, since=0, until=2e9)
    assert (report.path, report.polls, report.not_modified, report.bytes_sent) == ("rss.xml", 4, 2, 62_000)
    assert report.subscribers == {"Feedly": 12} and report.other_clients == 1
    assert as_rows([line(200, agent='Reader \\"quoted\\"')])[0][4] == 'Reader "quoted"'


def test_a_line_still_being_written_waits_for_its_end(tmp_path):
    log = tmp_path / "feeds.log"
    whole = line(304)
    append(log, line(200), whole[:10])
    reader, records = follower(tmp_path)
    assert reader.step() == 1
    append(log, whole[10:])
    assert reader.step() == 1 and polls(records) == 2


def test_a_rotated_log_is_read_to_its_end_then_the_new_one(tmp_path):
    log = tmp_path / "feeds.log"
    append(log, line(200))
    reader, records = follower(tmp_path)
    reader.step()
    os.rename(log, tmp_path / "feeds.log.1")
    append(tmp_path / "feeds.log.1", line(304))   # nginx writes on until it reopens
    append(log, line(304), line(304))            # ... then to the new file
    assert reader.step() == 3 and polls(records) == 4


def test_a_log_truncated_in_place_is_read_from_its_start(tmp_path):
    log = tmp_path / "feeds.log"
    append(log, line(200), line(304), line(304))
    reader, records = follower(tmp_path)
    reader.step()
    with open(log, "wb"):
        pass   # logrotate's copytruncate
    append(log, line(304))
    assert reader.step() == 1 and polls(records) == 4


def test_a_restart_counts_nothing_twice(tmp_path):
    log = tmp_path / "feeds.log"
    append(log, line(200), line(304))
    first, records = follower(tmp_path)
    first.step()
    first.stop()
    append(log, line(304))
    again, _ = follower(tmp_path)
    assert again.step() == 1 and polls(records) == 3


def test_a_log_rotated_while_stopped_is_found_beside_it_and_finished(tmp_path):
    log = tmp_path / "feeds.log"
    append(log, line(200))
    first, records = follower(tmp_path)
    first.step()
    first.stop()
    append(log, line(304))                          # logged after the stop ...
    os.rename(log, tmp_path / "feeds.log.1")       # ... then rotated
    append(log, line(304), line(304))
    again, _ = follower(tmp_path)
    assert again.step() == 3 and polls(records) == 4
