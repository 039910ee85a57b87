"""Atomic file writes: a reader sees the old bytes or the new ones, never a mix.

Each file is written in full to a temporary name in its own folder and renamed over
the old one (POSIX ``rename`` is atomic within a file system). A build stages every
file first and renames them in only when all are written (:mod:`.publish`); the
helpers for that live here: temporary names (:data:`TEMPORARY_NAME`, which a start
sweeps after a crash), second names for the files a build replaces (:func:`set_aside`),
putting them back, and removing what a published build made old.
"""

from __future__ import annotations

import ctypes
import errno
import functools
import itertools
import logging
import os
import re
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sources.errors import FeedpubError

log = logging.getLogger(__name__)


class PublishError(FeedpubError):
    """A document could not be written; the previous version is still in place."""


def fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sync_filesystem(folder: Path) -> None:
    """Flush the file system that holds ``folder`` (Linux syncfs); else every file system."""
    libc = _libc()
    if libc is not None:
        fd = os.open(folder, os.O_RDONLY)
        try:
            if libc.syncfs(fd) == 0:
                return
        finally:
            os.close(fd)
    os.sync()


@functools.lru_cache(maxsize=1)
def _libc():
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc if hasattr(libc, "syncfs") else None
    except OSError:
        return None


def write_atomic(path: Path, data: bytes, *, durable: bool = True) -> bool:
    """Replace ``path`` with ``data``; False (and no write at all) when it already holds them.

    ``durable`` False leaves the fsyncs to the caller: a build writes thousands of
    files and makes them durable with one sync before its manifest (:func:`finish`).
    Readers never see a partial file either way: that is the rename's doing.
    """
    staged = stage(path, data, durable=durable)
    if staged is None:
        return False
    _commit([(staged, path)], durable=durable)
    return True


def stage(path: Path, data: bytes, *, durable: bool, compare: bool = True,
           folders: list[str] | None = None, mtime: int | None = None) -> str | None:
    """Write ``data`` to a temporary file beside ``path``; None when ``path`` already holds it
    (``compare`` False: the caller knows it does not, and reading it back would be waste).
    ``folders``: where to note the folders made for it (a failed build removes them again).
    ``mtime``: the file's modification time, whole POSIX seconds (:func:`set_mtime`), given
    to the new file and to ``path`` when it already holds ``data``."""
    try:
        if compare and path.read_bytes() == data:
            if mtime is not None:
                set_mtime(path, mtime)
            return None
    except OSError:
        pass   # missing or unreadable: written below, where a real problem becomes a PublishError
    tmp = None
    try:
        try:
            fd, tmp = _open_temp(path)
        except FileNotFoundError:   # a new folder (asking first for every file cost more: 80k files at 100k articles)
            make_folder(path.parent, folders)
            fd, tmp = _open_temp(path)
        with os.fdopen(fd, "wb") as out:
            os.fchmod(fd, 0o644)   # whatever the umask: the web server may run as another user
            out.write(data)
            out.flush()   # before the time is set: a later write would set it again
            if mtime is not None:
                os.utime(fd, (mtime, mtime))
            if durable:
                os.fsync(out.fileno())
        return tmp
    except OSError as exc:
        if tmp:
            Path(tmp).unlink(missing_ok=True)
        raise PublishError(f"{path}: cannot write: {exc.strerror or exc}") from exc


def set_mtime(path: Path | str, mtime: int) -> None:
    """Give ``path`` the modification time ``mtime`` unless it has it already.

    A document's files carry the document's own time (its Last-Modified), never the
    build's clock: a web server that makes its validators from a file's time and size
    (nginx's ETag and Last-Modified) then gives the same ones on every instance and after
    every rebuild of unchanged content. A rename keeps the time; a hard link shares it.
    """
    try:
        if os.stat(path).st_mtime_ns != mtime * 1_000_000_000:
            os.utime(path, (mtime, mtime))
    except OSError as exc:
        # The file holds the right bytes: served as it is; only a time-and-size validator
        # (nginx's) differs from other instances' until the next build that can set it.
        log.warning("%s: cannot set its time to its document's: %s", path, exc.strerror or exc)


def make_folder(folder: Path, made: list[str] | None) -> None:
    missing = []
    while not folder.exists() and folder != folder.parent:
        missing.append(str(folder))
        folder = folder.parent
    for each in reversed(missing):
        os.makedirs(each, exist_ok=True)   # the other process of a full build may be making it too
    if made is not None:
        made += missing   # deepest first: the order they can be removed in


_TEMPS = itertools.count()


# The names _open_temp gives, and tempfile.mkstemp's 8 random characters of builds before
# (scheduler.remove_interrupted_writes removes what a crash left under them).
# "feedpub-" in the name: an operator's ".notes.2024-01.tmp" is not ours to remove.
TEMPORARY_NAME = re.compile(r"\..+\.(feedpub-\d+-\d+|[a-z0-9_]{8})\.tmp")


def _open_temp(path: Path) -> tuple[int, str]:
    """A new file beside ``path`` for its next bytes, named after this process and a counter:
    tempfile.mkstemp's random names cost more than creating the file (a full build creates
    ~6k at 1k articles, ~80k at 100k)."""
    for _ in range(1000):
        tmp = f"{path.parent}/.{path.name}.feedpub-{os.getpid()}-{next(_TEMPS)}.tmp"
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644), tmp
        except FileExistsError:
            continue   # left by a stopped process that had this pid
    raise FileExistsError(f"{path.parent}: no free temporary name for {path.name}")


def set_aside(path: str, *, removing: bool = False) -> str | None:
    """Give the file at ``path`` a second, temporary name (a hard link); None when there is
    no such file, or the file system has no hard links.

    Until the build is published, the previous version can be put back under its own
    name (:func:`finish`); and renaming the new version over a file that keeps another
    name frees nothing, where freeing the old version's blocks made the rename the slow
    part of swapping a build in (docs/RELIABILITY.md, #15): that is left to
    :func:`retire`, once the build is served. Needs the rights removing the file does.
    """
    folder, name = os.path.split(path)
    for _ in range(1000):
        spare = f"{folder}/.{name}.feedpub-{os.getpid()}-{next(_TEMPS)}.tmp"
        try:
            os.link(path, spare)
            return spare
        except FileExistsError:
            continue   # left by a stopped process that had this pid
        except FileNotFoundError:
            return None   # a new file: nothing to put back
        except OSError as exc:
            if exc.errno in (errno.EPERM, errno.EOPNOTSUPP, errno.EMLINK):
                return None   # no hard links here: the build is swapped in without a way back
            doing = "remove" if removing else "replace"
            raise PublishError(f"{path}: cannot {doing}: {exc.strerror or exc}") from exc
    raise PublishError(f"{folder}: no free temporary name for {name}")


def _remove_retired(spares: list[str], folders: list[str]) -> None:
    for spare in spares:
        try:
            os.unlink(spare)
        except OSError:
            pass   # gone already, or a folder made read-only since: a start removes it
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)


_RETIRING = ThreadPoolExecutor(max_workers=1, thread_name_prefix="feedpub-retire")


def retire(spares: list[str], folders: list[str]) -> None:
    """Remove the previous versions of a published build (and the folders of RFC 3229
    histories as builds before kept them): on a thread of its own, off the build's time."""
    _RETIRING.submit(_remove_retired, spares, folders)


def retired() -> None:
    """Wait until the previous versions of the builds published so far are removed (a
    process exiting waits for them anyway)."""
    _RETIRING.submit(lambda: None).result()


def discard_temporaries(output_dir: Path, pid: int) -> int:
    """Remove the temporary files process ``pid`` made under ``output_dir`` (a build's
    second process that stopped without saying what it wrote); how many there were."""
    marker = f".feedpub-{pid}-"
    removed = 0
    for folder, _, names in os.walk(output_dir):
        for name in names:
            if marker in name and TEMPORARY_NAME.fullmatch(name):
                Path(folder, name).unlink(missing_ok=True)
                removed += 1
    return removed


def _commit(staged: list[tuple[str, Path]], *, durable: bool) -> None:
    """Rename staged files into place, in order (renames need no space: a full disk fails
    while staging, before anything served has changed)."""
    try:
        for tmp, path in staged:
            os.replace(tmp, path)
            if durable:
                fsync_dir(path.parent)
    except OSError as exc:
        for tmp, _ in staged:
            Path(tmp).unlink(missing_ok=True)
        raise PublishError(f"{path}: cannot write: {exc.strerror or exc}") from exc


def discard(staged: list[tuple]) -> None:
    """Remove the temporary files of ``staged`` (temporary file, place[, its spare name])."""
    for tmp, _, *spare in staged:
        for name in (tmp, *spare):
            if name:
                Path(name).unlink(missing_ok=True)


def remove_folders(folders: list[str]) -> None:
    """Remove the folders a failed build made, deepest first, those left empty only."""
    for folder in folders:
        try:
            os.rmdir(folder)
        except OSError:
            pass   # something else is in it (the other process's files, say): it stays
