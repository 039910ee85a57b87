"""A large import's files read and parsed in a worker process, ahead of the saves.

:func:`sources.ingest.ingest_paths` reads each file into drafts (:mod:`sources.formats`)
and saves them (the store), one after the other. On a machine of two cores the reading
and parsing of the next files can go on in a second process while the importing process
saves: :func:`file_drafts` yields the same items in the same order either way (an
:class:`~sources.errors.IngestError` for a file that cannot be read, naming its file
and line, stands in its place), so what is stored, reported and counted does not
depend on where a file was parsed.

The worker only reads files: it writes nothing, so stopping it at any point loses
nothing. It ends with the import (its generator closed: the run finished, was asked to
stop, or failed), when the importing process dies (its writes to the pipe fail), and it
ignores Ctrl-C, which the terminal sends to both: the importing process decides what a
first Ctrl-C means (stop after the article at hand). A small import (a handful of files,
the API, the tests) reads in-process: starting an interpreter costs more than it saves.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import signal
import threading
from collections.abc import Iterator, Mapping, Sequence
from multiprocessing.connection import Connection
from pathlib import Path

from .drafts import ArticleDraft, Skipped
from .errors import IngestError
from .formats import read_file_drafts
from .model import IngestSettings

Item = ArticleDraft | IngestError | Skipped

# Imports of at least this many files, or of JSON Lines and WordPress files of at least this
# many bytes, read in a worker (see docs/BENCHMARKS.md, "Files parsed in a worker process").
WORKER_FILES = 200
WORKER_BYTES = 4 << 20
CHUNK_ITEMS = 32       # items sent to the importing process at a time (one pickle each)
NAMES_SLICE = 1024     # file names sent to the worker at a time
POLL_SECONDS = 1.0     # how often the worker, waiting for names, looks whether the importing process is there


def each_draft(file: Path, *, settings: IngestSettings, overrides: Mapping[str, object] | None) -> Iterator[Item]:
    """:func:`read_file_drafts`, an error for the file as a whole becoming its last item."""
    try:
        yield from read_file_drafts(file, settings=settings, overrides=overrides)
    except IngestError as exc:
        yield exc
    except OSError as exc:
        yield IngestError(exc.strerror or str(exc), path=str(file))


def wants_worker(files: Sequence[str | Path]) -> bool:
    """Whether reading ``files`` is worth a process of its own."""
    if len(files) >= WORKER_FILES:
        return True
    streamed = 0
    for name in files:
        if str(name).lower().endswith((".jsonl", ".xml")):
            try:
                streamed += os.stat(name).st_size
            except OSError:
                continue
    return streamed >= WORKER_BYTES


def file_drafts(files: Sequence[str | Path], *, settings: IngestSettings, overrides: Mapping[str, object] | None,
                worker: bool | None = None) -> Iterator[tuple[Path, Item]]:
    """(file, item) of every file in order; read in a worker process when ``worker`` says so
    (by default: :func:`wants_worker`). Closing the generator early stops the worker."""
    if not (wants_worker(files) if worker is None else worker):
        for name in files:
            file = Path(name)
            for item in each_draft(file, settings=settings, overrides=overrides):
                yield file, item
        return
    yield from _from_worker(files, settings=settings, overrides=overrides)


def _from_worker(files: Sequence[str | Path], *, settings: IngestSettings,
                 overrides: Mapping[str, object] | None) -> Iterator[tuple[Path, Item]]:
    context = multiprocessing.get_context("spawn")   # never fork a process with scheduler threads
    # A pipe holds what the worker has read ahead: its buffer and the chunk being sent, so
    # memory stays flat. This end alone reads it, and the worker alone writes: when it dies
    # this end reads the end of the pipe, and when this process dies its writes fail.
    reader, writer = context.Pipe(duplex=False)
    # The names go in slices, sent by the queue's own thread as the worker takes them: the
    # worker holds one slice, not a second copy of every name (docs/BENCHMARKS.md, "Files parsed
    # in a worker process").
    names = context.Queue()
    process = context.Process(target=_work, args=(names, settings, overrides, writer, os.getpid()),
                              name="feedpub-ingest-reader", daemon=True)
    _start_without_sigint(process)
    writer.close()
    for start in range(0, len(files), NAMES_SLICE):
        names.put([str(name) for name in files[start:start + NAMES_SLICE]])
    names.put(None)
    try:
        while True:
            try:
                chunk = reader.recv()
            except EOFError:
                process.join(POLL_SECONDS)
                raise IngestError(f"the process reading the files ended (exit code {process.exitcode}) "
                                  "before it had read them all; what is stored is whole, run again to resume") from None
            if chunk is None:
                break
            if isinstance(chunk, Exception):   # what the reading raised in-process would raise here
                raise chunk
            for index, item in chunk:
                yield Path(files[index]), item
    finally:
        # It only reads: ended at once, whatever it was doing.
        if process.is_alive():
            process.terminate()
        process.join()
        reader.close()
        names.close()
        names.cancel_join_thread()   # slices the worker never took are dropped, not waited for


def _start_without_sigint(process: multiprocessing.process.BaseProcess) -> None:
    """Start ``process`` with Ctrl-C ignored from its first instruction (a spawned
    interpreter keeps an ignored SIGINT ignored), when this is the main thread."""
    if threading.current_thread() is not threading.main_thread():
        process.start()
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        process.start()
    finally:
        signal.signal(signal.SIGINT, previous)


def _work(names: multiprocessing.Queue, settings: IngestSettings, overrides: Mapping[str, object] | None,
          chunks: Connection, parent: int) -> None:
    """The worker: every file's items, in chunks of (file's index, item), then None."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    def files() -> Iterator[str]:
        while True:
            try:
                part = names.get(timeout=POLL_SECONDS)
            except queue.Empty:
                if os.getppid() != parent:
                    os._exit(0)
                continue
            if part is None:
                return
            yield from part

    def send(chunk: list[tuple[int, Item]] | Exception | None) -> None:
        try:
            chunks.send(chunk)
        except OSError:   # the importing process is gone (killed) or done: nobody will read
            os._exit(0)

    chunk: list[tuple[int, Item]] = []
    try:
        for index, name in enumerate(files()):
            for item in each_draft(Path(name), settings=settings, overrides=overrides):
                chunk.append((index, item))
                if len(chunk) >= CHUNK_ITEMS:
                    send(chunk)
                    chunk = []
    except Exception as exc:  # noqa: BLE001 - not an article's error (those are items): raised where the import runs
        if chunk:
            send(chunk)
        send(exc)
    else:
        if chunk:
            send(chunk)
        send(None)
    chunks.close()
