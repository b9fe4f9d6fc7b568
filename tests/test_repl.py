"""The REPL: the session's answers, the prompt_toolkit loop, history, completion, a real pty."""

from __future__ import annotations

import io
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest
from prompt_toolkit.completion import CompleteEvent
from prompt_toolkit.document import Document
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput

import derive.cli
from derive import repl


def answers(*lines: str) -> list[str]:
    session = repl.Session()
    return [session.handle(line) for line in lines]


def test_a_spec_prints_the_cli_summary() -> None:
    (out,) = answers("in 205 -> lstm 700 x5 -> dense 205")
    assert out == derive.count("in 205 -> lstm 700 x5 -> dense 205").text()
    assert "total: 18,371,705 (18.4M)" in out


def test_convention_applies_to_later_specs_and_using_still_wins() -> None:
    switched, under, own = answers(
        ":convention graves2013", "in 205 -> lstm 700 x5 -> dense 205", "in 3 -> lstm 2 using torch"
    )
    assert switched.startswith("convention: graves2013")
    assert "total: 21,252,205" in under
    assert "total: 56" in own  # 4·2·(3 + 2) + 8·2 under pytorch


def test_set_and_unset_bind_symbols() -> None:
    bound, counted, unbound, symbolic = answers(":set m=205 n=700", "in m -> lstm n", ":unset n", "in m -> lstm n")
    assert bound == "bound: m=205, n=700"
    assert "total: 2,536,800" in counted  # 4·700·(205 + 700 + 1)
    assert unbound == "bound: m=205"
    assert "total: 2800*n + ..." not in symbolic
    assert "symbols: n" in symbolic


def test_commands_on_the_last_spec() -> None:
    _, latex, json_line, explained, compared, markdown = answers(
        "in 3 -> lstm 2", ":latex", ":json", ":explain", ":compare keras,pytorch", ":markdown"
    )
    assert latex.startswith(r"\begin{align*}")
    assert '"total": 48' in json_line
    assert "recurrent weights" in explained
    assert "pytorch" in compared
    assert "+8" in compared
    assert markdown.startswith("**`in 3 -> lstm 2`**")


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("in 3 -> lstmm 2", "did you mean 'lstm'?"),
        (":latex", "no spec yet"),
        (":convnetion keras", "did you mean ':convention'?"),
        (":convention kerass", "did you mean 'keras'?"),
        (":set n", "expected NAME=VALUE"),
        (":set n=0", "expected NAME=VALUE"),
        (":unset q", "'q' is not bound"),
        (":compare keras,pytorc", "did you mean 'pytorch'?"),
    ],
)
def test_errors_stay_in_the_repl(line: str, expected: str) -> None:
    session = repl.Session()
    if line.startswith(":compare"):
        session.handle("in 3 -> lstm 2")
    out = session.handle(line)
    assert out.startswith("error: ")
    assert expected in out
    assert not session.done


def test_caret_in_repl_errors() -> None:
    (out,) = answers("in 3 -> lstmm 2")
    assert "1 | in 3 -> lstmm 2\n  |         ^^^^^" in out


def test_blank_comment_help_and_quit() -> None:
    session = repl.Session()
    assert session.handle("") == ""
    assert session.handle("# note") == ""
    assert ":compare" in session.handle(":help")
    session.handle(":quit")
    assert session.done


def _drive(text: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("DERIVE_HISTORY", str(tmp_path / "history"))
    out = io.StringIO()
    with create_pipe_input() as pipe:
        pipe.send_text(text)
        assert repl.run(stdout=out, input=pipe, output=DummyOutput()) == 0
    return out.getvalue()


def test_prompt_loop_with_history(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = _drive("in 3 -> lstm 2\n:convention pytorch\nin 3 -> lstm 2\n:quit\n", tmp_path, monkeypatch)
    assert "total: 48" in out
    assert "total: 56" in out
    history = (tmp_path / "history").read_text()
    assert "+in 3 -> lstm 2" in history
    assert "+:convention pytorch" in history


def test_prompt_loop_ends_on_ctrl_d(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = _drive("in 10 -> dense 5\n\x04", tmp_path, monkeypatch)
    assert "total: 55" in out


def test_completion() -> None:
    completer = repl.completer()

    def complete(text: str) -> set[str]:
        return {c.text for c in completer.get_completions(Document(text), CompleteEvent(completion_requested=True))}

    assert "lstm" in complete("in 3 -> ls")
    assert ":convention" in complete(":con")
    assert "graves2013" in complete("in 3 -> lstm 2 using gr")
    assert "peephole" in complete("in 3 -> lstm 2 (pee")


def test_derive_repl_and_no_argument_on_a_terminal_open_the_repl(monkeypatch: pytest.MonkeyPatch) -> None:
    opened: list[str | None] = []
    monkeypatch.setattr(repl, "run", lambda session, stdout: opened.append(session.convention) or 0)
    assert derive.cli.main(["repl", "--convention", "torch"]) == 0

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert derive.cli.main([], stdin=Terminal()) == 0
    assert opened == ["pytorch", None]


def test_repl_on_a_real_pseudo_terminal(tmp_path: Path) -> None:
    env = dict(os.environ, TERM="xterm", PROMPT_TOOLKIT_NO_CPR="1", DERIVE_HISTORY=str(tmp_path / "history"))
    env.pop("PYTHONPATH", None)
    controller, terminal = pty.openpty()
    child = subprocess.Popen(
        [sys.executable, "-m", "derive"], stdin=terminal, stdout=terminal, stderr=terminal, env=env, cwd=tmp_path
    )
    os.close(terminal)
    seen = b""

    def read_until(marker: bytes, seconds: float = 20) -> None:
        nonlocal seen
        end = time.monotonic() + seconds
        while marker not in seen and time.monotonic() < end:
            ready, _, _ = select.select([controller], [], [], 0.2)
            if ready:
                try:
                    seen += os.read(controller, 65536)
                except OSError:
                    break
        assert marker in seen, seen.decode(errors="replace")[-2000:]

    try:
        read_until(b"derive>")
        os.write(controller, b"in 205 -> lstm 700 x5 -> dense 205\r")
        read_until(b"18,371,705")
        os.write(controller, b"in 3 -> lstmm 2\r")
        read_until(b"did you mean")
        os.write(controller, b":quit\r")
        assert child.wait(timeout=20) == 0
    finally:
        if child.poll() is None:
            child.kill()
        os.close(controller)
