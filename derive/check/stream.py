"""Checking a table of any length: rows read, counted and reported one at a time.

``derive check`` reads the file through once to find what is wrong with it before it counts
anything (a malformed file prints no report), then reads it again and counts the rows, in this
process or in several, a chunk of rows at a time (by default, several for a table long enough
to repay starting them); the report keeps the file's order whatever the number of processes.
Counted rows wait in a spool (the last few thousand in memory, the rest on disk) until the last
one is in, since the text table's widths and the Markdown summary need them all, so that
memory stays the same for ten rows or a million. When standard error is a terminal, the number
of rows counted so far is shown there.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import pickle
import signal
import tempfile
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from typing import IO, TextIO

from .reader import Case, iter_cases, read_cases
from .report import Checker, Row, Tally, json_chunks, markdown_lines, text_lines

__all__ = ["AUTO_MAX", "AUTO_ROWS", "CHUNK", "auto_jobs", "check_rows", "run", "usable_cpus"]

#: The rows a process counts at a time: enough that sending them costs little beside counting.
CHUNK = 64
#: By default, a process for every this many rows: below it, starting a worker costs about what
#: it saves (on 500 rows, two processes take 0.42 s and one 0.46 s, each a new command).
AUTO_ROWS = 500
#: By default, at most this many processes.
AUTO_MAX = 8
_KEPT = 4096  # rows kept in memory (about a megabyte); the ones before go to disk
_TICK = 0.1  # seconds between two updates of the progress line


def usable_cpus() -> int:
    """The CPUs this process may run on: its affinity where the system tells it (a container or
    ``taskset`` may allow fewer than the machine has), else the machine's."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def auto_jobs(rows: int) -> int:
    """The processes ``derive check`` counts ``rows`` rows in when not told: one per
    :data:`AUTO_ROWS` rows, at most one per usable CPU and :data:`AUTO_MAX`, at least one."""
    return max(1, min(rows // AUTO_ROWS, usable_cpus(), AUTO_MAX))


def check_rows(cases: Iterable[Case], jobs: int = 1, form: str = "text") -> Iterator[Row]:
    """Check every case and yield its :class:`~derive.check.report.Row` in ``form``, in order;
    with ``jobs`` above 1, across that many processes."""
    if jobs <= 1:
        check = Checker()
        for case in cases:
            yield check(case).row(form)
        return
    yield from _in_processes(cases, jobs, form)


def _chunks(cases: Iterable[Case]) -> Iterator[list[Case]]:
    chunk: list[Case] = []
    for case in cases:
        chunk.append(case)
        if len(chunk) == CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _in_processes(cases: Iterable[Case], jobs: int, form: str) -> Iterator[Row]:
    """The rows counted by ``jobs`` worker processes, a chunk at a time, in the file's order;
    at most two chunks per worker are read ahead, so memory does not grow with the table."""
    methods = multiprocessing.get_all_start_methods()
    # fork starts a worker with SymPy and derive already imported; spawn imports them again.
    context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    pending: deque[Future[list[Row]]] = deque()
    executor = ProcessPoolExecutor(max_workers=jobs, mp_context=context, initializer=_worker)
    try:
        for chunk in _chunks(cases):
            pending.append(executor.submit(_check_chunk, chunk, form))
            while len(pending) >= 2 * jobs:
                yield from pending.popleft().result()
        while pending:
            yield from pending.popleft().result()
    finally:
        for future in pending:
            future.cancel()
        executor.shutdown(wait=True, cancel_futures=True)


def _worker() -> None:
    """A worker leaves Ctrl-C to the command, which stops it (no traceback from each worker)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


_checker: Checker | None = None  # a worker's, kept from chunk to chunk


def _check_chunk(cases: list[Case], form: str) -> list[Row]:
    """Count a chunk of cases in a worker process."""
    global _checker
    if _checker is None:
        _checker = Checker()
    return [_checker(case).row(form) for case in cases]


class _Spool:
    """Rows kept in order and read back from the first as often as needed: the last
    :data:`_KEPT` in memory, the ones before in a temporary file (deleted when closed), a
    pickled list of :data:`_KEPT` rows at a time."""

    def __init__(self) -> None:
        self._kept: list[Row] = []
        self._file: IO[bytes] | None = None

    def add(self, row: Row) -> None:
        self._kept.append(row)
        if len(self._kept) >= _KEPT:
            if self._file is None:
                self._file = tempfile.TemporaryFile()  # noqa: SIM115 - closed by close()
            pickle.dump(self._kept, self._file, protocol=pickle.HIGHEST_PROTOCOL)
            self._kept = []

    def __call__(self) -> Iterator[Row]:
        if self._file is not None:
            self._file.seek(0)
            while True:
                try:
                    rows: list[Row] = pickle.load(self._file)  # rows this process wrote itself
                except EOFError:
                    break
                yield from rows
            self._file.seek(0, os.SEEK_END)
        yield from self._kept

    def close(self) -> None:
        if self._file is not None:
            self._file.close()


class _Progress:
    """``checked 12,345 of 1,000,000 rows`` on a terminal, rewritten in place, then erased."""

    def __init__(self, stream: TextIO | None, total: int) -> None:
        self.stream = stream
        self.total = total
        self.done = 0
        self.shown = 0.0
        self.width = 0

    def step(self) -> None:
        self.done += 1
        if self.stream is None:
            return
        now = time.monotonic()
        if now - self.shown >= _TICK or self.done == self.total:
            self.shown = now
            share = f" ({100 * self.done / self.total:.0f}%)" if self.total else ""
            text = f"derive check: {self.done:,} of {self.total:,} rows{share}"
            self.width = max(self.width, len(text))
            self.stream.write("\r" + text)
            self.stream.flush()

    def close(self) -> None:
        if self.stream is not None and self.width:
            self.stream.write("\r" + " " * self.width + "\r")
            self.stream.flush()
            self.width = 0


def _source(path: str | Path) -> Callable[[], Iterable[Case]]:
    """The cases of the file, as often as asked: read again each time from a regular file;
    read once and kept from a pipe or a device, which cannot be read twice."""
    if os.path.isfile(path):
        return lambda: iter_cases(path)
    cases = read_cases(path)
    return lambda: cases


def run(
    path: str | Path, out: TextIO, form: str = "text", jobs: int | None = 1, progress: TextIO | None = None
) -> int:
    """Check the table at ``path`` and write its report to ``out`` in ``form`` (``text``,
    ``json`` or ``markdown``); return how many rows fail. ``jobs``: the processes to count in,
    or ``None`` to choose by the table's length (:func:`auto_jobs`). ``progress``: where to
    show the rows counted so far (a terminal), or ``None``.

    Raises :class:`~derive.check.reader.CaseFileError` for a malformed file, before anything
    is written to ``out``.
    """
    cases = _source(path)
    total = sum(1 for _ in cases())  # the whole file is read once, and refused if malformed
    if jobs is None:
        jobs = auto_jobs(total)
    tally = Tally()
    spool = _Spool()
    shown = _Progress(progress, total)
    try:
        for row in check_rows(cases(), jobs, form):
            spool.add(row)
            tally.add(row.status)
            shown.step()
        shown.close()  # before the report, which may go to the same terminal
        if form == "json":
            lines: Iterable[str] = json_chunks(spool, tally, str(path))
            out.writelines(lines)
        else:
            lines = markdown_lines(spool, tally, str(path)) if form == "markdown" else text_lines(spool, tally)
            for n, line in enumerate(lines):
                out.write(("\n" if n else "") + line)
        out.write("\n")
    finally:
        with contextlib.suppress(OSError, ValueError):
            shown.close()
            spool.close()
    return tally.failed
