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
import functools
import os
import pickle
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, TextIO

from .. import parallel
from .reader import Case, iter_cases, read_cases
from .report import Checker, Row, Tally, json_chunks, markdown_lines, text_lines

__all__ = ["check_rows", "run"]

_KEPT = 4096  # rows kept in memory (about a megabyte); the ones before go to disk
_TICK = 0.1  # seconds between two updates of the progress line


def check_rows(cases: Iterable[Case], jobs: int = 1, form: str = "text") -> Iterator[Row]:
    """Check every case and yield its :class:`~derive.check.report.Row` in ``form``, in order;
    with ``jobs`` above 1, across that many processes (:mod:`derive.parallel`)."""
    if jobs <= 1:
        check = Checker()
        for case in cases:
            yield check(case).row(form)
        return
    yield from parallel.in_processes(cases, functools.partial(_check_chunk, form=form), jobs)


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


def run(path: str | Path, out: TextIO, form: str = "text", jobs: int | None = 1, progress: TextIO | None = None) -> int:
    """Check the table at ``path`` and write its report to ``out`` in ``form`` (``text``,
    ``json`` or ``markdown``); return how many rows fail. ``jobs``: the processes to count
    in, or ``None`` to choose by the table's length (:func:`derive.parallel.auto_jobs`).
    ``progress``: where to show the rows counted so far (a terminal), or ``None``.

    Raises :class:`~derive.check.reader.CaseFileError` for a malformed file, before anything
    is written to ``out``.
    """
    cases = _source(path)
    total = sum(1 for _ in cases())  # the whole file is read once, and refused if malformed
    if jobs is None:
        jobs = parallel.auto_jobs(total)
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
