"""Atomic, change-only writes into public/."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

import feeds.publishing.publish
from feeds.publishing.atomic import PublishError, write_atomic
from feeds.publishing.publish import MANIFEST_NAME, Manifest, publish, read_manifest
from feeds.rendering.formats import Document


def doc(path: str, body: bytes) -> Document:
    return Document(path, body, "application/xml; charset=utf-8", "2024-09-18T14:30:00+07:00")


def test_a_failed_swap_leaves_the_old_file_and_no_temp_file(tmp_path, monkeypatch):
    target = tmp_path / "rss.xml"
    target.write_bytes(b"old")

    def broken_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(PublishError, match=r"rss\.xml: cannot write: No space left on device"):
        write_atomic(target, b"new")
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rss.xml"]


def test_the_new_file_is_fsynced_before_it_is_swapped_in(tmp_path, monkeypatch):
    events = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: (events.append("fsync"), real_fsync(fd))[1])
    monkeypatch.setattr(os, "replace", lambda a, b: (events.append("replace"), real_replace(a, b))[1])
    assert write_atomic(tmp_path / "atom.xml", b"<feed/>") is True
    assert events[:2] == ["fsync", "replace"] and events[2:] == ["fsync"]   # then the folder


def test_a_build_is_on_disk_before_its_manifest_is_swapped_in(tmp_path, monkeypatch):
    """Documents are written without a sync each; one sync precedes the manifest."""
    from feeds.rendering.document import Document
    from feeds.publishing.publish import MANIFEST_NAME, publish

    from feeds.publishing import publish as publishing

    events = []
    real_sync, real_replace = publishing.sync_filesystem, os.replace
    monkeypatch.setattr(publishing, "sync_filesystem", lambda folder: (events.append("sync"), real_sync(folder))[1])
    monkeypatch.setattr(os, "replace", lambda a, b: (events.append(Path(b).name), real_replace(a, b))[1])
    publish(tmp_path, [Document("rss.xml", b"<rss/>", "application/rss+xml; charset=utf-8", "2024-09-18T00:00:00+07:00"),
                       Document("logo.png", b"png", "image/png", "2024-09-18T00:00:00+07:00")])
    assert events.index("sync") == len(events) - 2 and events[-1] == MANIFEST_NAME
    assert {"rss.xml", "rss.xml.br", "rss.xml.gz", "logo.png"} <= set(events[:-2])


def test_a_long_build_has_the_file_system_write_back_as_it_goes(tmp_path, monkeypatch):
    """Not all at the closing sync: that would wait for every byte of a full build."""
    synced = []
    monkeypatch.setattr(feeds.publishing.publish, "sync_filesystem", lambda folder: synced.append(folder))
    monkeypatch.setattr(feeds.publishing.publish._WriteBack, "EVERY", 10_000)
    publish(tmp_path, [doc(f"{n}.xml", b"<x>%d</x>" % n + b" " * 4000) for n in range(12)])
    feeds.publishing.publish._SYNCER.submit(lambda: None).result()   # the last one asked for has run
    assert len(synced) >= 2   # at least one on the way, and the closing one
    synced.clear()
    publish(tmp_path / "small", [doc("1.xml", b"<x/>")])
    assert synced == [tmp_path / "small"]   # a small build: only the closing one


def test_unchanged_bytes_are_not_written_again(tmp_path):
    target = tmp_path / "rss.xml"
    assert write_atomic(target, b"same") is True
    before = os.stat(target)
    assert write_atomic(target, b"same") is False
    after = os.stat(target)
    assert (before.st_ino, before.st_mtime_ns) == (after.st_ino, after.st_mtime_ns)


def test_the_manifest_lists_documents_and_documents_no_longer_built_are_removed(tmp_path):
    publish(tmp_path, [doc("rss.xml", b"a"), doc("old.xml", b"b")])
    report = publish(tmp_path, [doc("rss.xml", b"a")])
    assert report.removed == ("old.xml",) and not (tmp_path / "old.xml").exists()
    manifest = read_manifest(tmp_path)
    assert list(manifest) == ["rss.xml"]
    assert manifest["rss.xml"]["size"] == 1 and len(manifest["rss.xml"]["sha256"]) == 64
    assert (tmp_path / MANIFEST_NAME).exists()


def test_files_no_build_listed_are_left_alone(tmp_path):
    (tmp_path / "robots.txt").write_text("User-agent: *\n")
    publish(tmp_path, [doc("rss.xml", b"a")])
    assert (tmp_path / "robots.txt").exists()


def test_a_document_written_before_a_kill_counts_as_written_again(tmp_path):
    """The bytes reached the disk but the manifest did not: the hubs were never told."""
    from feeds.rendering.document import Document
    from feeds.publishing.publish import publish

    old = Document("atom.xml", b"<feed>1</feed>", "application/atom+xml; charset=utf-8", "2024-09-18T00:00:00+07:00")
    new = Document("atom.xml", b"<feed>2</feed>", "application/atom+xml; charset=utf-8", "2024-09-18T01:00:00+07:00")
    publish(tmp_path, [old])
    (tmp_path / "atom.xml").write_bytes(new.body)          # swapped in, then the process died
    assert publish(tmp_path, [new]).written == ("atom.xml",)
    assert publish(tmp_path, [new]).written == ()


def test_an_archive_manifest_is_read_again_only_when_the_main_one_names_another(tmp_path, monkeypatch):
    """Builds in one process (the service) keep the archive folders' manifests they read or
    wrote, by the digest the main manifest names them with."""
    publish(tmp_path, [doc("rss.xml", b"a"), doc("archive/2024-09-1.xml", b"<feed>1</feed>")])
    shard = tmp_path / "archive" / MANIFEST_NAME
    reads = []
    real_read = Path.read_bytes
    monkeypatch.setattr(Path, "read_bytes", lambda self: (reads.append(self), real_read(self))[1])
    assert set(Manifest(tmp_path).shard("archive/")) == {"archive/2024-09-1.xml"}
    assert shard not in reads   # as the build that wrote it left it

    # Another process's build rewrites the folder's manifest and names it anew.
    listed = json.loads(shard.read_bytes())
    listed["documents"]["archive/2024-10-1.xml"] = dict(listed["documents"]["archive/2024-09-1.xml"])
    body = json.dumps(listed).encode()
    shard.write_bytes(body)
    head = json.loads((tmp_path / MANIFEST_NAME).read_bytes())
    head["shards"]["archive/"] = hashlib.sha256(body).hexdigest()
    (tmp_path / MANIFEST_NAME).write_bytes(json.dumps(head).encode())
    reads.clear()
    assert set(Manifest(tmp_path).shard("archive/")) == {"archive/2024-09-1.xml", "archive/2024-10-1.xml"}
    assert reads.count(shard) == 1

    # A build stopped between writing a folder's manifest and the main one: the main one
    # still names the version kept, which is what this process answers with...
    shard.write_bytes(json.dumps({"version": 1, "documents": {}}).encode())
    reads.clear()
    assert set(Manifest(tmp_path).shard("archive/")) == {"archive/2024-09-1.xml", "archive/2024-10-1.xml"}
    assert reads.count(shard) == 0
    # ...and a process that never read it reads the file each time: bytes that are not
    # what the main manifest names are never kept as if they were.
    monkeypatch.setattr(feeds.publishing.publish, "_SHARDS", type(feeds.publishing.publish._SHARDS)())
    assert set(Manifest(tmp_path).shard("archive/")) == set()
    assert set(Manifest(tmp_path).shard("archive/")) == set()
    assert reads.count(shard) == 2


def test_a_changed_document_is_not_read_back_before_it_is_replaced(tmp_path, monkeypatch):
    publish(tmp_path, [doc("rss.xml", b"<rss>1</rss>" * 100)])
    reads = []
    real_read = Path.read_bytes
    monkeypatch.setattr(Path, "read_bytes", lambda self: (reads.append(self.name), real_read(self))[1])
    report = publish(tmp_path, [doc("rss.xml", b"<rss>2</rss>" * 100)])
    during = set(reads)
    assert report.written == ("rss.xml",) and (tmp_path / "rss.xml").read_bytes() == b"<rss>2</rss>" * 100
    assert not {"rss.xml", "rss.xml.br", "rss.xml.gz"} & during   # the manifest says it changed
    reads.clear()
    assert publish(tmp_path, [doc("rss.xml", b"<rss>2</rss>" * 100)]).unchanged == ("rss.xml",)
    assert "rss.xml" in reads   # the same digest: compared, not written again
