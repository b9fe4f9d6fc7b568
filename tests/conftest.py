"""Shared helpers: run the CLI in-process, and read console transcripts.

A transcript is the form used by golden files (``tests/golden/*.txt``) and by the examples in
the docs (```console blocks): a line ``$ derive ARGS [< FILE]`` followed by what the command
prints (standard output, then standard error).
"""

from __future__ import annotations

import io
import json
import os
import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any
from unittest import mock

import oracles
import pytest

from derive.cli import main

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Run:
    status: int
    out: str
    err: str

    @property
    def json(self) -> Any:
        return json.loads(self.out)

    @property
    def lines(self) -> list[Any]:
        return [json.loads(line) for line in self.out.splitlines()]


def run_cli(*argv: str, stdin: str | bytes = "") -> Run:
    """Run ``derive ARGV`` in this process with ``stdin`` (text, or the bytes of a file) as
    standard input: a stream with a ``.buffer`` of bytes that keeps ``\\r\\n``, as the
    process's own does."""
    data = stdin.encode("utf-8") if isinstance(stdin, str) else stdin
    stream = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8", newline="\n")
    out, err = io.StringIO(), io.StringIO()
    status = main(list(argv), stdin=stream, stdout=out, stderr=err)
    return Run(status, out.getvalue(), err.getvalue())


@dataclass
class Session:
    command: str
    expected: str
    where: str

    def run(self, base: Path) -> Run:
        """Run the command in the folder ``base``: file paths, after ``<`` or as arguments
        (derive check FILE), are relative to it. The docs' examples run from the repository's
        root, where a reader who copies them stands."""
        words = shlex.split(self.command)
        assert words[0] == "derive", f"{self.where}: only derive commands are run: {self.command}"
        stdin = b""
        if "<" in words:
            at = words.index("<")
            stdin = (base / words[at + 1]).read_bytes()
            words = words[:at] + words[at + 2 :]
        here = os.getcwd()
        os.chdir(base)
        try:  # argparse wraps the usage line to the terminal's width: the one of the examples
            with mock.patch.dict(os.environ, {"COLUMNS": "80"}):
                return run_cli(*words[1:], stdin=stdin)
        finally:
            os.chdir(here)


def transcript(command: str, base: Path) -> str:
    """``$ COMMAND`` and what it prints now, to rewrite a golden file or a docs example."""
    run = Session(command, "", command).run(base)
    return f"$ {command}\n" + (run.out + run.err).rstrip("\n")


def sessions(text: str, where: str) -> list[Session]:
    """The ``$ derive ...`` commands in ``text`` with the output written under each."""
    found: list[Session] = []
    for match in re.finditer(r"^\$ (.*)\n((?:(?!\$ ).*\n)*)", text, re.M):
        found.append(Session(match[1], match[2].rstrip("\n"), f"{where}: $ {match[1]}"))
    return found


def console_blocks(markdown: str, where: str) -> list[Session]:
    """The sessions in the ```console blocks of a Markdown file."""
    found: list[Session] = []
    for block in re.findall(r"^```console\n(.*?)^```", markdown, re.M | re.S):
        found.extend(sessions(block, where))
    return found


def check_error(spec: str, error: type[Exception], message: str, column: int) -> None:
    """``derive.count(spec)`` raises ``error`` matching ``message``, with a caret at ``column``
    of line 1 (the error tables of tests/test_programs.py and tests/test_conv.py)."""
    import derive

    with pytest.raises(error, match=message) as caught:
        derive.count(spec)
    assert (caught.value.line, caught.value.column) == (1, column)  # type: ignore[attr-defined]
    assert "^" in str(caught.value)


def check_cli_error(spec: str, column: int) -> None:
    """``derive SPEC`` exits with status 2 and the error, pointing at ``column``, on standard
    error: no output, no traceback."""
    run = run_cli(spec)
    assert run.status == 2
    assert run.out == ""
    assert run.err.startswith("error: ")
    assert f"--> line 1, column {column}" in run.err
    assert "Traceback" not in run.err


# --- Ctrl-C while workers count ---

#: Where Linux lists a process's children: the helper below waits for the workers there.
WORKERS_LISTED = Path("/proc/self/task").exists()


def interrupt_when_workers_start(argv: list[str], stdin: Path | None = None) -> tuple[int, str, str]:
    """Run ``python -m derive ARGV`` (standard input from ``stdin``) in its own process group, as
    a terminal's foreground job; once it has started its worker processes, send the group what
    Ctrl-C sends (SIGINT); return its status, output and errors."""
    import signal
    import subprocess
    import sys
    import time

    with open(stdin if stdin is not None else os.devnull, "rb") as source:
        child = subprocess.Popen(
            [sys.executable, "-m", "derive", *argv],
            stdin=source,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        children = Path(f"/proc/{child.pid}/task/{child.pid}/children")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and child.poll() is None and not children.read_text().split():
            time.sleep(0.05)
        time.sleep(0.3)
        os.killpg(child.pid, signal.SIGINT)
        out, err = child.communicate(timeout=60)
    return child.returncode, out, err


# --- the frameworks, for the oracle suites (a skip, or a failure under DERIVE_REQUIRE_ORACLES=1) ---


@pytest.fixture(scope="module")
def torch_module() -> ModuleType:
    """torch, imported before hypothesis runs (so a skip or failure happens once)."""
    return oracles.require("torch")


@pytest.fixture(scope="module")
def transformers_module(torch_module: ModuleType) -> ModuleType:
    """Hugging Face transformers (on torch)."""
    return oracles.require("transformers")


@pytest.fixture(scope="module")
def peft_module(transformers_module: ModuleType) -> ModuleType:
    """peft, which adds LoRA adapters to torch and transformers models."""
    return oracles.require("peft")


@pytest.fixture(scope="module")
def keras_module() -> ModuleType:
    """Keras 3 on the torch backend, imported before hypothesis runs (importing it changes the
    recursion limit)."""
    return oracles.require("keras")
