"""Writing documents into public/: atomically, only when their bytes change, all of a build or none.

A reader polling during a rebuild sees either the old file or the new one,
never a mix: each file is written to a temporary file in the same folder,
then renamed over the old one (POSIX ``rename`` is atomic within a file system).

A build is published whole or not at all (issue #15). Every file it changes (the
documents, their precompressed variants, their RFC 3229 histories, the archive
folders' manifests and the main manifest) is first written in full under a
temporary name, and every file it replaces or removes gets a second, temporary name
(:func:`set_aside`). Only when all of that is done does :func:`finish` rename the new
files into place, documents before the manifests, and remove what the build no longer
makes. A failure before that (a document that does not render, a full disk, a name
the file system refuses, a folder it may not change) removes the temporary files and
leaves what is served exactly as the previous build left it, manifest included; a
rename that fails after others succeeded puts those back from their second names.
The manifest is renamed last, after one sync, so the server's view of "which version
is current" never runs ahead of the files. The previous versions are removed after
that, on a thread of their own.

A text document's precompressed variants (``NAME.br``, ``NAME.gz``:
:mod:`feeds.publishing.encoding`) are renamed before the document itself, and listed with
their SHA-256 under the document's manifest entry (``"encodings"``); the server
serves a variant only when its bytes match the manifest entry of the document it
serves, so a reader never gets a variant of another version than the document's.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections import OrderedDict, deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import orjson

from ..rendering.document import Document
from .atomic import (PublishError, discard, fsync_dir, remove_folders, retire, set_aside, set_mtime, stage,
                     sync_filesystem)
from .delta import history_before, history_path, is_delta_type, legacy_history, next_history
from .encoding import VARIANTS, Compressing, compress, compressible

log = logging.getLogger(__name__)

MANIFEST_NAME = ".manifest.json"   # hidden: the server never serves dot-files
# An empty file under this folder at a document's path says the document answers 410 (its
# manifest entry's "status"): for a web server that cannot read the manifest (nginx, which
# looks for it: feeds/serving/nginx.py). Hidden, like the manifest.
GONE_MARKERS = ".gone"


@dataclass(frozen=True)
class PublishReport:
    written: tuple[str, ...]
    unchanged: tuple[str, ...]
    removed: tuple[str, ...]
    types: dict[str, str] = field(default_factory=dict)   # path -> content type of what was handed over


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# Where the manifests of the documents outside archive folders and the top folder are: one of 256
# by the first two hex digits of their path's SHA-256 (every article's page, under `articles/` at the
# default `site.article_url`, would otherwise be one list that an edit reads and writes whole).
SHARDS_FOLDER = ".manifests"


def shard_of(path: str) -> str | None:
    """The folder whose own manifest lists ``path`` (None: the main manifest does): its archive
    folder, or for any other document below the top folder, one of :data:`SHARDS_FOLDER`'s.

    A large site has tens of thousands of archive pages and an article page each: each
    archive folder keeps its own ``.manifest.json``, the other documents below the top folder
    are spread over 256 (each listed with its digest in the main one), so a build that changes
    a few documents rewrites a few small files, not a manifest of every document.
    """
    folder = path.rpartition("/")[0]
    if not folder:
        return None
    if folder == "archive" or folder.endswith("/archive"):
        return folder + "/"
    return f"{SHARDS_FOLDER}/{hashlib.sha256(path.encode()).hexdigest()[:2]}/"


def _read_json(path: Path) -> dict:
    try:
        data = orjson.loads(path.read_bytes())   # large manifests: orjson reads them faster than json
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


# Archive folders' manifests as last read, by file, with the SHA-256 of the bytes they were
# read from. The service builds after every change, and an edit reads the manifests of the
# archive folders it touches (large on a large site): one the main manifest still names by
# the same digest is not read again. The last 32 are kept.
_SHARDS: OrderedDict[Path, tuple[str, dict[str, dict]]] = OrderedDict()
_SHARDS_KEPT = 32
_SHARDS_LOCK = threading.Lock()


def _read_shard(path: Path, digest: str) -> dict[str, dict]:
    with _SHARDS_LOCK:
        kept = _SHARDS.get(path)
        if kept and kept[0] == digest:
            _SHARDS.move_to_end(path)
            return kept[1]
    try:
        body = path.read_bytes()
        found = orjson.loads(body).get("documents", {})
    except (OSError, ValueError, AttributeError):
        return {}
    found = found if isinstance(found, dict) else {}
    # Kept under the digest of what was read, which may not be the one asked for (a build
    # stopped between writing this file and the main manifest): never a wrong hit.
    _keep_shard(path, sha256(body), found)
    return found


def _keep_shard(path: Path, digest: str, documents: dict[str, dict]) -> None:
    with _SHARDS_LOCK:
        _SHARDS[path] = (digest, documents)
        _SHARDS.move_to_end(path)
        while len(_SHARDS) > _SHARDS_KEPT:
            _SHARDS.popitem(last=False)


class Manifest:
    """The manifest as a build reads it: the main file at once, archive folders when asked."""

    def __init__(self, output_dir: Path):
        self.output_dir = output_dir
        head = _read_json(output_dir / MANIFEST_NAME)
        documents, shards = head.get("documents", {}), head.get("shards", {})
        self.documents: dict[str, dict] = documents if isinstance(documents, dict) else {}
        self.shards: dict[str, str] = shards if isinstance(shards, dict) else {}   # folder -> sha256 of its file
        self._loaded: dict[str, dict[str, dict]] = {}
        self._loading = threading.Lock()   # the build's thread and its writer thread both read it

    def shard(self, folder: str) -> dict[str, dict]:
        """The documents an archive folder's manifest lists (shared: never to be changed)."""
        with self._loading:
            if folder not in self._loaded:
                digest = self.shards.get(folder)
                self._loaded[folder] = _read_shard(self.output_dir / folder / MANIFEST_NAME, digest) if digest else {}
            return self._loaded[folder]

    def get(self, path: str, default=None):
        folder = shard_of(path)
        return (self.shard(folder) if folder else self.documents).get(path, default)

    def paths(self, prefix: str) -> list[str]:
        """Every listed path that begins with ``prefix``."""
        found = [path for path in self.documents if path.startswith(prefix)]
        archived = shard_of(prefix + "x")   # a prefix within an archive folder: that folder's alone
        within = archived if archived and not archived.startswith(SHARDS_FOLDER + "/") else None
        for folder in self.shards:
            if folder.startswith(SHARDS_FOLDER + "/"):
                if within is None:   # spread by digest: any of them may hold such a path
                    found += [path for path in self.shard(folder) if path.startswith(prefix)]
            elif folder.startswith(prefix) or prefix.startswith(folder):
                found += [path for path in self.shard(folder) if path.startswith(prefix)]
        return sorted(found)

    def everything(self) -> dict[str, dict]:
        merged = dict(self.documents)
        for folder in self.shards:
            merged.update(self.shard(folder))
        return merged


def read_manifest(output_dir: Path) -> dict[str, dict]:
    """path -> {sha256, size, updated, content_type, ...} of every document, archive pages
    included; empty when missing or unreadable."""
    return Manifest(output_dir).everything()


def _holds(path: Path, digest: str) -> bool:
    try:
        return sha256(path.read_bytes()) == digest
    except OSError:
        return False


def document_time(doc: Document) -> int:
    """The modification time a document's files get: its own time (``updated``, the newest
    change in it as the store gives it) in whole seconds, the Last-Modified feedpub's
    server sends for it (feeds/serving/server.py). Never the build's clock."""
    return int(datetime.fromisoformat(doc.updated).timestamp())


def _stage_variants(output_dir: Path, doc: Document, digest: str, before: dict,
                    staged: list[tuple[str, str]], compressing: Compressing | None,
                    folders: list[str]) -> dict[str, dict]:
    """Stage the document's precompressed variants; coding -> {sha256, size} for the manifest.

    Compressing is the slow part of a build, so an unchanged document whose variants are
    still on disk as the last manifest listed them is not compressed again.
    """
    mtime = document_time(doc)
    recorded = before.get("encodings") if before.get("sha256") == digest else None
    if (isinstance(recorded, dict) and set(recorded) == set(VARIANTS)
            and all(_holds(output_dir / (doc.path + VARIANTS[coding]), recorded[coding].get("sha256"))
                    for coding in VARIANTS)):
        for coding in VARIANTS:
            set_mtime(output_dir / (doc.path + VARIANTS[coding]), mtime)
        return {coding: {"sha256": recorded[coding]["sha256"], "size": recorded[coding]["size"]}
                for coding in VARIANTS}
    encodings = {}
    for coding, data in (compressing.result() if compressing else compress(doc.body, archive=doc.archive)).items():
        target = output_dir / (doc.path + VARIANTS[coding])
        tmp = stage(target, data, durable=False, compare=compressing is None, folders=folders, mtime=mtime)
        if tmp:
            staged.append((tmp, str(target)))
        encodings[coding] = {"sha256": sha256(data), "size": len(data)}
    return encodings


def _old_variants(output_dir: Path, path: str, before: dict, *, keep: dict) -> list[str]:
    """The variants a previous manifest listed for ``path`` that are no longer made."""
    recorded = before.get("encodings")
    return [str(output_dir / (path + VARIANTS[coding])) for coding in (recorded if isinstance(recorded, dict) else ())
            if coding in VARIANTS and coding not in keep]


@dataclass
class Written:
    """What one pass of :func:`write_documents` did; passes can run in separate processes."""

    entries: dict[str, dict] = field(default_factory=dict)   # path -> manifest entry
    written: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    types: dict[str, str] = field(default_factory=dict)       # path -> content type
    # (temporary file, its place, the spare name of the version it replaces or None), in the
    # order :func:`finish` renames them in: a document's variants, the document, its history
    staged: list[tuple[str, str, str | None]] = field(default_factory=list)
    obsolete: list[str] = field(default_factory=list)   # to remove with the build: variants no longer made
    legacy: list[str] = field(default_factory=list)     # RFC 3229 histories as builds before kept them
    folders: list[str] = field(default_factory=list)    # made for the temporary files, deepest first

    def add(self, other: Written) -> None:
        self.entries.update(other.entries)
        self.written += other.written
        self.unchanged += other.unchanged
        self.types.update(other.types)
        self.staged += other.staged
        self.obsolete += other.obsolete
        self.legacy += other.legacy
        self.folders += other.folders

    def discard(self) -> None:
        """Remove everything this pass staged: its build failed, nothing of it is published."""
        discard(self.staged)
        remove_folders(self.folders)
        self.staged, self.folders = [], []


def write_documents(output_dir: Path, documents: Iterable[Document], previous: Manifest) -> Written:
    """Write each document whose bytes changed, and its variants and history, under temporary
    names; :func:`finish` swaps them in and writes the manifest. On any failure (rendering
    included: ``documents`` is rendered as it is read) what was written is removed again.

    The build's thread renders; a second thread writes, in order, what it rendered
    (file-system calls wait on the disk), and a document's variants are made on the
    compression threads meanwhile. At most ``_AHEAD`` documents wait to be written.
    """
    done = Written()
    writing: deque[Future] = deque()
    failed: list[BaseException] = []
    write_back = _WriteBack(output_dir)

    def write(doc: Document, digest: str, compressing: Compressing | None) -> None:
        if failed:
            return   # an earlier document failed: nothing after it is written
        try:
            _write_one(output_dir, previous, done, doc, digest, compressing)
            write_back.wrote(len(doc.body))
        except BaseException as exc:
            failed.append(exc)
            raise

    try:
        for doc, digest, compressing in _compressing_ahead(documents, previous):
            writing.append(_WRITER.submit(write, doc, digest, compressing))
            while len(writing) > _AHEAD or (writing and writing[0].done()):
                writing.popleft().result()
        for future in writing:
            future.result()
    except BaseException:
        wait(writing)   # nothing of this build still writing once it has failed
        done.discard()
        raise
    return done


_WRITER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="feedpub-writer")
_AHEAD = 4
_SYNCER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="feedpub-sync")


class _WriteBack:
    """Has the file system write back what a long build wrote so far, on a thread of its
    own, every ``EVERY`` bytes of documents: the closing sync (:func:`finish`) then waits
    for the last part only, where it waited for all of it (0.4 s at 10k articles here;
    the kernel starts on its own only after 30 s)."""

    EVERY = 64 << 20

    def __init__(self, folder: Path):
        self.folder, self.pending, self.syncing = folder, 0, None

    def wrote(self, size: int) -> None:
        self.pending += size
        if self.pending >= self.EVERY and (self.syncing is None or self.syncing.done()):
            self.pending = 0
            # A failure here is the closing sync's to report: it syncs the same files.
            self.syncing = _SYNCER.submit(_quietly, sync_filesystem, self.folder)


def _quietly(action, *args) -> None:
    try:
        action(*args)
    except OSError:
        pass


def _write_one(output_dir: Path, previous: Manifest, done: Written, doc: Document, digest: str,
               compressing: Compressing | None) -> None:
    entry = {
        "sha256": digest,
        "size": len(doc.body),
        "updated": doc.updated,
        "content_type": doc.content_type,
    }
    if doc.basis is not None:
        entry["basis"] = doc.basis
    if doc.page is not None:
        entry["page"] = doc.page       # what the server gives a browser that asks for this feed
    if doc.status != 200:
        entry["status"] = doc.status
    if doc.private:
        entry["private"] = True        # the server names no hub for it
    before = previous.get(doc.path) or {}
    # Staged in the order finish renames them in: the variants, the document (once it is
    # swapped in, its variants are already there), its history (the server offers a delta
    # only while the history names the version it serves).
    staged: list[tuple[str, str]] = []
    folders: list[str] = []
    kept: list[tuple[str, str, str | None]] = []
    try:
        if compressible(doc.content_type):
            entry["encodings"] = _stage_variants(output_dir, doc, digest, before, staged, compressing, folders)
        # Read back only when the file may hold these bytes already: the manifest lists them,
        # or lists nothing for it (files left by a first build stopped before its manifest).
        target = output_dir / doc.path
        document = stage(target, doc.body, durable=False, compare=before.get("sha256") in (None, digest),
                          folders=folders, mtime=document_time(doc))
        if document:
            staged.append((document, str(target)))
        if not doc.archive and is_delta_type(doc.content_type):
            # RFC 3229 + feed deltas: the history, or the version this one replaces, read before it goes.
            history = history_before(output_dir, doc.path, replacing=document is not None)
            recorded = next_history(doc.path, doc.body, digest, history) if history else None
            if recorded is not None:
                place = history_path(output_dir, doc.path)
                staged.append((stage(place, recorded, durable=False, compare=False, folders=folders), str(place)))
                legacy = legacy_history(output_dir, doc.path)
                if legacy is not None:
                    done.legacy.append(str(legacy))
        for tmp, place in staged:
            kept.append((tmp, place, set_aside(place)))
    except BaseException:
        discard(kept + [pair + (None,) for pair in staged[len(kept):]])
        remove_folders(folders)
        raise
    done.staged += kept
    done.folders += folders
    done.obsolete += _old_variants(output_dir, doc.path, before, keep=entry.get("encodings", {}))
    # Changed against the manifest, not only the disk: a build killed after writing
    # a document but before its manifest must count it written again (WebSub).
    if document or before.get("sha256") != entry["sha256"]:
        done.written.append(doc.path)
    else:
        done.unchanged.append(doc.path)
    done.entries[doc.path] = entry
    done.types[doc.path] = doc.content_type


def _compressing_ahead(documents: Iterable[Document], previous: Manifest
                       ) -> Iterator[tuple[Document, str, Compressing | None]]:
    """Each document with its digest and, when it changed, its variants under way: they are
    made on other threads while the next document is rendered (the build's own thread)."""
    waiting: deque = deque()
    for doc in documents:
        digest = sha256(doc.body)
        changed = compressible(doc.content_type) and (previous.get(doc.path) or {}).get("sha256") != digest
        waiting.append((doc, digest, Compressing(doc.body, archive=doc.archive) if changed else None))
        if len(waiting) > 1:
            yield waiting.popleft()
    yield from waiting


def publish(output_dir: Path, documents: Iterable[Document], *, only: bool = False,
            remove: Iterable[str] = (), previous: Manifest | None = None) -> PublishReport:
    """Write every document that changed, then the manifest.

    A full build (``only`` False) hands over every document: those a previous build
    listed and this one did not are removed. An incremental one hands over only what
    it rendered (``only``) and names what to ``remove``; the rest stays as listed.
    ``previous``: the manifest as the caller already read it.
    """
    previous = Manifest(output_dir) if previous is None else previous
    return finish(output_dir, previous, write_documents(output_dir, documents, previous), only=only, remove=remove)


def finish(output_dir: Path, previous: Manifest, done: Written, *, only: bool = False,
           remove: Iterable[str] = ()) -> PublishReport:
    """Publish what :func:`write_documents` staged, or nothing of it.

    The archive folders' manifests and the main one are staged too, and each file to
    remove gets a spare name (:func:`set_aside`: a folder the build may not change fails
    here). Then everything is swapped in: the documents (each after its variants), the
    removals, the archive folders' manifests, one sync, the main manifest last. Should any
    of these renames fail, every file already swapped in is put back from its spare name.
    """
    manifests: list[tuple[str, str, str | None]] = []   # archive folders' manifests
    removals: list[tuple[str, str | None]] = []          # (file to remove, its spare name)
    main = None
    try:
        documents, shards, removing = _listing(previous, done, only=only, remove=remove)
        digests = dict(previous.shards) if only else {}
        gone = [str(output_dir / path) for path, _ in removing]
        gone += [variant for path, before in removing for variant in _old_variants(output_dir, path, before, keep={})]
        kept = []
        for folder, listed in sorted(shards.items()):
            target = output_dir / folder / MANIFEST_NAME
            if listed:
                body = _manifest_body({"version": 1, "documents": listed})
                tmp = stage(target, body, durable=False)
                if tmp:
                    manifests.append((tmp, str(target), set_aside(str(target))))
                digests[folder] = sha256(body)
                kept.append((target, digests[folder], listed))
            else:   # the folder's last page is gone
                gone.append(str(target))
                digests.pop(folder, None)
        for path in (*gone, *done.obsolete):
            spare = set_aside(path, removing=True)
            if spare or os.path.lexists(path):   # no hard links here: removed without a way back
                removals.append((path, spare))
        # Naming each archive folder's manifest by digest: the server sees a new main
        # manifest whenever any part changed.
        main = stage(output_dir / MANIFEST_NAME,
                      _manifest_body({"version": 1, "documents": documents, "shards": digests}), durable=True)
    except BaseException:
        done.discard()
        discard(manifests + [(main, "")] + [(spare, "") for _, spare in removals])
        raise
    swapped: list[tuple[str, str | None]] = []   # (place, spare name of what was there)
    try:
        for tmp, target, spare in done.staged:
            os.replace(tmp, target)
            swapped.append((target, spare))
        for path, spare in removals:
            os.unlink(path)
            swapped.append((path, spare))
        for tmp, target, spare in manifests:
            os.replace(tmp, target)
            swapped.append((target, spare))
        if done.types or removing:
            # One sync for the whole build instead of two per file (a full build writes
            # thousands): every document is on disk before the manifest that lists it.
            sync_filesystem(output_dir)
        if main:
            os.replace(main, output_dir / MANIFEST_NAME)
    except BaseException as exc:
        _put_back(swapped)
        done.discard()
        discard(manifests + [(main, "")] + [(spare, "") for _, spare in removals])
        if isinstance(exc, OSError):
            raise PublishError(f"{exc.filename}: cannot swap the build in: {exc.strerror or exc}") from exc
        raise
    if main:
        fsync_dir(output_dir)
    _mark_gone(output_dir, previous, done.entries, [path for path, _ in removing])
    for target, digest, listed in kept:
        _keep_shard(target, digest, listed)   # the next build's, unless another writes first
    spares = [spare for *_, spare in (*done.staged, *manifests, *removals) if spare]
    if spares or done.legacy:
        retire(spares, done.legacy)
    return PublishReport(tuple(done.written), tuple(done.unchanged), tuple(path for path, _ in removing), done.types)


def _mark_gone(output_dir: Path, previous: Manifest, entries: dict[str, dict], removed: list[str]) -> None:
    """Make the markers of :data:`GONE_MARKERS` say what the manifest just published says: one
    for each document that answers 410, none for any other. After the manifest, so a marker
    never runs ahead of the document it describes; a marker that could not be changed is
    changed by the next build that writes its document (each 410 document's is checked)."""
    folder = output_dir / GONE_MARKERS
    for path, entry in entries.items():
        gone = entry.get("status") == 410
        if not gone and (previous.get(path) or {}).get("status") != 410:
            continue   # neither now nor before: the common case costs no file-system call
        marker = folder / path
        try:
            if gone and not marker.is_file():
                marker.parent.mkdir(parents=True, exist_ok=True)
                marker.touch()
            elif not gone:
                marker.unlink(missing_ok=True)
        except OSError as exc:   # the build is published already: said, not raised
            log.warning("%s: cannot mark the document's status for nginx: %s", marker, exc.strerror or exc)
    for path in removed:
        try:
            (folder / path).unlink(missing_ok=True)
        except OSError as exc:
            log.warning("%s: cannot remove the mark of a removed document: %s", folder / path, exc.strerror or exc)


def _put_back(swapped: list[tuple[str, str | None]]) -> None:
    """Undo the renames and removals of a build that could not be swapped in whole: each
    previous version back under its name, each new file gone."""
    for place, spare in reversed(swapped):
        try:
            if spare:
                os.replace(spare, place)
            else:
                os.unlink(place)
        except OSError:
            pass   # the file system fails (the error being raised says how): the next build repairs


def _listing(previous: Manifest, done: Written, *, only: bool, remove: Iterable[str]
             ) -> tuple[dict[str, dict], dict[str, dict[str, dict]], list[tuple[str, dict]]]:
    """The main manifest's documents and each archive folder's once the build is in, and the
    documents to remove with what the previous manifest listed for them."""
    if only:
        stale = set(remove) - set(done.entries)   # never what this build wrote (another article's page at an old address)
        folders = {shard_of(path) for path in (*done.entries, *stale)} - {None}
        documents = dict(previous.documents)
        shards = {folder: dict(previous.shard(folder)) for folder in folders}
    else:
        everything = previous.everything()
        stale = set(everything) - set(done.entries)
        folders = set(previous.shards) | {shard_of(path) for path in done.entries} - {None}
        documents, shards = {}, {folder: {} for folder in folders}
    for path, entry in done.entries.items():
        folder = shard_of(path)
        (shards[folder] if folder else documents)[path] = entry
    removing = []
    for path in sorted(stale):
        before = previous.get(path)
        if before is None:
            continue   # only files a previous build listed are ours to remove
        folder = shard_of(path)
        (shards[folder] if folder else documents).pop(path, None)
        removing.append((path, before))
    return documents, shards, removing


def _manifest_body(data: dict) -> bytes:
    # orjson: the same bytes as json.dumps(sort_keys, compact) for these ASCII manifests,
    # written by every build, faster (docs/BENCHMARKS.md, "Figures behind choices in the code").
    return orjson.dumps(data, option=orjson.OPT_SORT_KEYS) + b"\n"
