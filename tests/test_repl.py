"""The REPL: the session's answers, the prompt_toolkit loop, history, completion, a real pty."""

from __future__ import annotations

import fcntl
import io
import json
import os
import pty
import select
import signal
import subprocess
import sys
import termios
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
        (":set n=0", "the value of n must be a positive integer, not 0"),
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


def _drive(text: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, session: repl.Session | None = None) -> str:
    monkeypatch.setenv("DERIVE_HISTORY", str(tmp_path / "history"))
    out = io.StringIO()
    with create_pipe_input() as pipe:
        pipe.send_text(text)
        pipe.close()  # then the end of the text is the end of input: a test cannot hang
        assert repl.run(session, stdout=out, input=pipe, output=DummyOutput()) == 0
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
    monkeypatch.setattr(repl, "run", lambda session, **streams: opened.append(session.convention) or 0)
    assert derive.cli.main(["repl", "--convention", "torch"]) == 0

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert derive.cli.main([], stdin=Terminal()) == 0
    assert opened == ["pytorch", None]


class Terminal:
    """A child process on a real pseudo-terminal, and what it has written so far."""

    def __init__(self, argv: list[str], tmp_path: Path) -> None:
        self.controller, terminal = pty.openpty()
        self.child = subprocess.Popen(
            argv,
            stdin=terminal,
            stdout=terminal,
            stderr=terminal,
            env=_child_env(tmp_path),
            cwd=tmp_path,
            start_new_session=True,  # then the terminal becomes the child's own, as in a shell:
            preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0),  # Ctrl-C there is SIGINT here
        )
        os.close(terminal)
        self.seen = b""

    def read_until(self, marker: bytes, seconds: float = 20) -> None:
        end = time.monotonic() + seconds
        while marker not in self.seen and time.monotonic() < end:
            ready, _, _ = select.select([self.controller], [], [], 0.2)
            if ready:
                try:
                    self.seen += os.read(self.controller, 65536)
                except OSError:
                    break
        assert marker in self.seen, self.seen.decode(errors="replace")[-2000:]

    def type(self, text: bytes) -> None:
        os.write(self.controller, text)

    def close(self) -> None:
        if self.child.poll() is None:
            self.child.kill()
        os.close(self.controller)


def test_repl_on_a_real_pseudo_terminal(tmp_path: Path) -> None:
    terminal = Terminal([sys.executable, "-m", "derive"], tmp_path)
    try:
        terminal.read_until(b"derive>")
        terminal.type(b"in 205 -> lstm 700 x5 -> dense 205\r")
        terminal.read_until(b"18,371,705")
        terminal.type(b"in 3 -> lstmm 2\r")
        terminal.read_until(b"did you mean")
        terminal.type(b":quit\r")
        assert terminal.child.wait(timeout=20) == 0
    finally:
        terminal.close()


# A count that takes until it is interrupted: the REPL's own count, made to wait for Ctrl-C.
SLOW = """
import sys, time
import derive.cli, derive.repl
count = derive.repl.Session._count
def slow(self, spec, *args):
    if "slow" in spec:
        print("counting...", flush=True)
        time.sleep(120)
    return count(self, spec, *args)
derive.repl.Session._count = slow
sys.exit(derive.cli.main(sys.argv[1:]))
"""


def test_ctrl_c_on_a_real_terminal_interrupts_the_count_and_keeps_the_session(tmp_path: Path) -> None:
    terminal = Terminal([sys.executable, "-c", SLOW, "repl"], tmp_path)
    try:
        terminal.read_until(b"derive>")
        terminal.type(b":set n=3\r")
        terminal.read_until(b"bound: n=3")
        terminal.type(b"in n -> dense 2\r")
        terminal.read_until(b"total: 8")
        terminal.type(b"in 3 -> dense slow\r")
        terminal.read_until(b"counting...")
        terminal.type(b"\x03")  # Ctrl-C: the terminal sends SIGINT
        terminal.read_until(b"interrupted")
        terminal.type(b":json\r")
        terminal.read_until(b'"total": 8')  # the last spec, with n=3
        terminal.type(b":quit\r")
        assert terminal.child.wait(timeout=20) == 0
        assert b"Traceback" not in terminal.seen
    finally:
        terminal.close()


def test_ctrl_c_while_reading_a_file_stops_with_130(tmp_path: Path) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", SLOW, "repl"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=_child_env(tmp_path),
        cwd=tmp_path,
    )
    assert child.stdin is not None
    assert child.stdout is not None
    assert child.stderr is not None
    child.stdin.write(b"in 3 -> dense slow\nin 3 -> dense 2\n")
    child.stdin.close()
    assert child.stdout.readline() == b"counting...\n"
    child.send_signal(signal.SIGINT)
    assert child.wait(timeout=20) == 130
    assert child.stdout.read() == b""  # the next line is not answered
    assert child.stderr.read() == b""  # no traceback


# --- flags of `derive repl`: honoured or refused ------------------------------------------------


def test_derive_repl_set_and_json_apply_to_the_session() -> None:
    out, err = io.StringIO(), io.StringIO()
    lines = "in n -> dense 2\n:set\n"
    status = derive.cli.main(["repl", "--set", "n=3", "--json"], stdin=io.StringIO(lines), stdout=out, stderr=err)
    assert (status, err.getvalue()) == (0, "")
    counted, bound = (json.loads(line) for line in out.getvalue().splitlines())
    assert counted["total"] == 3 * 2 + 2  # dense 2 on 3 inputs, with a bias
    assert bound == {"bound": {"n": 3}}


@pytest.mark.parametrize(
    ("flags", "instead"),
    [
        (["--latex"], ":latex"),
        (["--markdown"], ":markdown"),
        (["--explain"], ":explain"),
        (["--compare"], ":compare"),
        (["--budget", "19M"], ":solve"),
        (["--match", "in 3 -> dense 2"], ":match"),
        (["--leading", "n"], ":leading"),
        (["--budget", "19M", "--solve", "h"], ":solve"),
    ],
)
def test_flags_that_do_not_apply_to_the_repl_are_refused(
    flags: list[str], instead: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(repl, "run", lambda session, **streams: 0)
    out, err = io.StringIO(), io.StringIO()
    assert derive.cli.main(["repl", *flags], stdin=io.StringIO(), stdout=out, stderr=err) == 2
    assert out.getvalue() == ""
    assert err.getvalue().startswith(f"error: {flags[0]} ")
    assert instead in err.getvalue()


def test_a_flag_the_repl_does_not_know_is_refused_too() -> None:
    parser = derive.cli.build_parser()
    parser.add_argument("--frobnicate", action="store_true")  # a flag added to the CLI later
    with pytest.raises(derive.DeriveError, match="--frobnicate does not apply to the REPL") as error:
        repl.session_from_args(parser.parse_args(["repl", "--frobnicate"]), parser)
    assert error.value.hint == "the REPL takes --convention, --set, --json, --debug"
    session = repl.session_from_args(parser.parse_args(["repl", "-c", "torch", "-s", "n=3", "--json"]), parser)
    assert (session.convention, session.bindings, session.json) == ("pytorch", {"n": 3}, True)


# --- every command checks its words -------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (":explain please", ":explain takes nothing, not 'please'"),
        (":json x", ":json takes nothing"),
        (":markdown x", ":markdown takes nothing"),
        (":latex --standalone x", ":latex takes nothing or 'standalone'"),
        (":latex pdf", ":latex takes nothing or 'standalone', not 'pdf'"),
        (":help me", "no command ':me'"),
        (":quit now", ":quit takes nothing"),
        (":exit now", ":quit takes nothing"),
        (":convention keras pytorch", ":convention takes at most one convention name"),
        (":leading d L", ":leading takes one symbol"),
        (":solve h 19M more", ":solve takes a BUDGET, or a SYMBOL and a BUDGET"),
        (":solve", "write :solve [SYMBOL] BUDGET"),
        (":match", "write :match SPEC"),
        (":leading", "write :leading SYMBOL"),
    ],
)
def test_commands_refuse_words_they_do_not_take(line: str, expected: str) -> None:
    session = repl.Session()
    session.handle("in V -> embed d -> lstm d x L -> dense V")
    out = session.handle(line)
    assert out.startswith("error: ")
    assert expected in out
    assert not session.done


@pytest.mark.parametrize("line", [":latex standalone", ":latex --standalone"])
def test_latex_standalone_prints_the_document(line: str) -> None:
    _, out = answers("in 3 -> dense 2", line)
    assert out.startswith(r"\documentclass")
    assert out.rstrip().endswith(r"\end{document}")


def test_help_for_one_command() -> None:
    out = repl.Session().handle(":help solve")
    assert out.startswith(":solve [SYMBOL] BUDGET\n")
    assert "e.g. :solve h 19M" in out
    assert repl.Session().handle(":help :q").startswith(":quit (also :exit, :q)")


def test_help_lists_every_command_of_the_table() -> None:
    text = repl.Session().handle(":help")
    for command in repl.COMMAND_TABLE.values():
        assert f"  {command.usage} " in text


def test_set_the_same_name_twice_on_one_line_is_an_error() -> None:
    session = repl.Session()
    out = session.handle(":set n=1 n=2")
    assert out.startswith("error: n is given twice")
    assert session.bindings == {}
    assert session.handle(":set n=1") == "bound: n=1"
    assert session.handle(":unset n n") == "bound: nothing"


def test_leading_ignores_bindings_for_other_specs() -> None:
    _, _, out = answers(":set q=2", "in V -> embed d -> lstm d", ":leading d")
    assert "count ≈ 8*d**2" in out  # 4·d·(d + d) from the LSTM's weights


def test_a_tab_separates_a_command_from_its_words() -> None:
    _, out = answers("in 3 -> dense 2", ":latex\tstandalone")
    assert out.startswith(r"\documentclass")


# --- hints in the REPL's words ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (":solve 19M", "bind all but one with :set, e.g. :set n=..."),
        (":match in 3 -> lstm q", "bind them with :set"),
        (":leading n", "bind every symbol with :set"),
    ],
)
def test_hints_use_repl_commands_not_flags(line: str, expected: str) -> None:
    _, out = answers("in m -> lstm n", line)
    assert expected in out
    assert "--" not in out


# --- :match counts SPEC as the last spec is counted ---------------------------------------------


def test_match_counts_the_target_under_the_last_specs_using() -> None:
    _, out = answers("in 205 -> lstm h x5 -> dense 205 using graves2013", ":match in 205 -> lstm 700 x5 -> dense 205")
    # graves2013: peepholes (3h), skip connections from the input to every layer and from every
    # layer to the output: 4·700·(205+700) + 7·700, four of 4·700·(905+700) + 7·700, 3500·205 + 205
    target = 4 * 700 * (205 + 700) + 7 * 700 + 4 * (4 * 700 * (905 + 700) + 7 * 700) + 3500 * 205 + 205
    assert f"h = 700: {target:,}" in out


def test_match_target_with_its_own_using_keeps_it() -> None:
    _, out = answers("in 205 -> lstm h x5 -> dense 205 using graves2013", ":match in 3 -> lstm 2000 using pytorch")
    assert f"budget: {4 * 2000 * (3 + 2000) + 8 * 2000:,}" in out  # two bias vectors per gate


def test_match_under_the_session_convention() -> None:
    session = repl.Session(convention="pytorch")
    session.handle("in 3 -> lstm h")
    out = session.handle(":match in 3 -> lstm 7")
    assert f"h = 7: {4 * 7 * (3 + 7) + 8 * 7:,}" in out


# --- the session survives anything a line does --------------------------------------------------


def test_set_a_number_too_long_for_python_is_an_error() -> None:
    session = repl.Session()
    session.handle(":set m=5")
    out = session.handle(":set n=" + "7" * 4301)
    assert out.startswith("error: n has 4,301 digits; the limit is 1,000")
    assert session.bindings == {"m": 5}
    assert session.handle(":set n=" + "7" * 1000) == f"bound: m=5, n={'7' * 1000}"


def test_solve_a_huge_budget_keeps_the_session() -> None:
    session = repl.Session()
    session.handle(":set q=2")
    session.handle("in 3 -> lstm h")
    out = session.handle(":solve h 1e200")  # a root past floating-point precision
    assert out
    assert "\n" not in out or out.startswith("in 3 -> lstm h")
    assert (session.last, session.bindings, session.done) == ("in 3 -> lstm h", {"q": 2}, False)
    assert "total: 48" in session.handle("in 3 -> lstm 2")  # 4·2·(3 + 2) + 4·2


def test_an_internal_error_is_one_line_and_the_session_goes_on(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(spec: str, convention: str | None = None, **options: object) -> derive.Result:
        raise RuntimeError("boom\nsecond line")

    session = repl.Session()
    session.handle("in 3 -> dense 2")
    monkeypatch.setattr(repl, "count", broken)
    out = session.handle("in 3 -> dense 4")
    assert out.startswith("error: internal error: RuntimeError: boom (a bug in derive")
    assert "\n" not in out
    assert session.failed
    assert session.last == "in 3 -> dense 2"
    monkeypatch.undo()
    assert "total: 8" in session.handle(":explain")  # 3·2 weights + 2 biases
    assert not session.failed


def test_debug_adds_the_traceback_to_an_internal_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(spec: str, convention: str | None = None, **options: object) -> derive.Result:
        raise RuntimeError("boom")

    monkeypatch.setattr(repl, "count", broken)
    out = repl.Session(debug=True).handle("in 3 -> dense 4")
    assert out.splitlines()[0].startswith("error: internal error: RuntimeError: boom")
    assert "Traceback (most recent call last)" in out


def test_ctrl_c_during_a_count_returns_to_the_prompt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    handle = repl.Session.handle

    def interrupted(self: repl.Session, line: str) -> str:
        if "slow" in line:
            raise KeyboardInterrupt
        return handle(self, line)

    monkeypatch.setattr(repl.Session, "handle", interrupted)
    session = repl.Session()
    out = _drive(":set n=3\nin n -> dense 2\nin 3 -> dense slow\n:json\n:quit\n", tmp_path, monkeypatch, session)
    assert "interrupted\n" in out
    assert '"total": 8' in out.split("interrupted\n")[1]  # the last spec and n=3 are still there
    assert session.bindings == {"n": 3}


def test_ctrl_c_in_a_json_session_is_a_json_answer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    handle = repl.Session.handle

    def interrupted(self: repl.Session, line: str) -> str:
        if "slow" in line:
            raise KeyboardInterrupt
        return handle(self, line)

    monkeypatch.setattr(repl.Session, "handle", interrupted)
    out = _drive("in 3 -> dense slow\n:quit\n", tmp_path, monkeypatch, repl.Session(json=True))
    answer = json.loads(out.splitlines()[-1])
    assert answer["spec"] == "in 3 -> dense slow"
    assert answer["error"]["message"] == "interrupted"


# --- JSON sessions ------------------------------------------------------------------------------


def test_a_json_session_answers_every_line_with_one_json_line() -> None:
    session = repl.Session(json=True)
    lines = [
        ":set d=64",
        "in 3 -> lstm 2",
        ":explain",
        ":compare keras,pytorch",
        ":latex",
        ":markdown",
        ":json",
        ":convention",
        ":unset",
        ":help",
        "in V -> embed d -> lstm d",
        ":leading d",
        "in 3 -> lstm h",
        ":solve 1000",
        "in 3 -> lstmm 2",
        ":bogus",
    ]
    answers = {line: session.handle(line) for line in lines}
    parsed = {line: json.loads(out) for line, out in answers.items()}
    assert all("\n" not in out for out in answers.values())
    assert parsed[":set d=64"] == {"bound": {"d": 64}}
    assert parsed["in 3 -> lstm 2"]["total"] == 4 * 2 * (3 + 2) + 4 * 2
    assert parsed[":json"] == parsed["in 3 -> lstm 2"]
    assert parsed[":latex"]["latex"].startswith(r"\begin{align*}")
    assert parsed[":convention"]["convention"] == "keras"
    assert parsed[":solve 1000"]["value"] == 13  # 4h(h + 4) ≤ 1000: 13·17·4 = 884, 14·18·4 = 1008
    error = parsed["in 3 -> lstmm 2"]
    assert error["spec"] == "in 3 -> lstmm 2"
    assert (error["error"]["line"], error["error"]["column"]) == (1, 9)
    assert "did you mean 'lstm'" in error["error"]["message"]
    assert parsed[":bogus"]["command"] == ":bogus"


# --- reading lines from a file or a pipe --------------------------------------------------------


def test_lines_from_a_non_terminal_are_answered_without_a_prompt() -> None:
    out, err = io.StringIO(), io.StringIO()
    text = "\ufeff:set n=3\r\nin n -> dense 2\r\n:quit\r\nin 3 -> dense 5\n"
    assert derive.cli.main(["repl"], stdin=io.StringIO(text), stdout=out, stderr=err) == 0
    assert out.getvalue().splitlines()[0] == "bound: n=3"
    assert "total: 8" in out.getvalue()
    assert "derive>" not in out.getvalue()
    assert "in 3 -> dense 5" not in out.getvalue()  # after :quit


def test_an_error_in_a_file_of_lines_sets_the_status_and_the_rest_is_answered() -> None:
    out = io.StringIO()
    status = derive.cli.main(["repl"], stdin=io.StringIO(":set n=0\nin 3 -> dense 2\n"), stdout=out)
    assert status == 2
    assert out.getvalue().startswith("error: the value of n must be a positive integer")
    assert "total: 8" in out.getvalue()


def _child_env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ, TERM="xterm", PROMPT_TOOLKIT_NO_CPR="1", DERIVE_HISTORY=str(tmp_path / "history"))
    env.pop("PYTHONPATH", None)
    return env


def test_derive_repl_reads_a_file_on_standard_input(tmp_path: Path) -> None:
    script = tmp_path / "session.txt"
    script.write_bytes(b"\xef\xbb\xbf:set n=3\r\nin 3 -> \xff\nin n -> dense 2\n:json\n")
    with script.open("rb") as stdin:
        child = subprocess.run(
            [sys.executable, "-m", "derive", "repl"],
            stdin=stdin,
            capture_output=True,
            env=_child_env(tmp_path),
            cwd=tmp_path,
            timeout=60,
        )
    out = child.stdout.decode()
    assert child.returncode == 2, child.stderr.decode()
    assert child.stderr == b""
    assert out.splitlines()[0] == "bound: n=3"
    assert "error: line 2 is not valid UTF-8 (at byte 9)" in out
    assert "total: 8" in out
    assert json.loads(out.splitlines()[-1])["total"] == 8


# --- history that cannot be kept ----------------------------------------------------------------


@pytest.mark.parametrize("where", ["directory", "empty", os.devnull, "/dev/full"])
def test_unusable_history_falls_back_to_memory_with_one_warning(
    where: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if where.startswith("/dev/") and not Path(where).exists():
        pytest.skip(f"no {where} here")
    value = {"directory": str(tmp_path), "empty": ""}.get(where, where)
    monkeypatch.setenv("DERIVE_HISTORY", value)
    out, err = io.StringIO(), io.StringIO()
    with create_pipe_input() as pipe:
        pipe.send_text("in 10 -> dense 5\n:quit\n")
        pipe.close()
        assert repl.run(stdout=out, stderr=err, input=pipe, output=DummyOutput()) == 0
    assert "total: 55" in out.getvalue()  # 10·5 + 5
    warnings = err.getvalue().splitlines()
    if where == os.devnull:  # the documented way to keep no history: no warning
        assert warnings == []
    else:
        assert len(warnings) == 1
        assert warnings[0].startswith("derive: warning: ")
        assert warnings[0].endswith("the history of this session will not be kept")


def test_a_failed_history_write_warns_once_and_the_session_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prompt_toolkit.history import FileHistory

    def full(self: FileHistory, string: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(FileHistory, "store_string", full)
    monkeypatch.setenv("DERIVE_HISTORY", str(tmp_path / "history"))
    out, err = io.StringIO(), io.StringIO()
    with create_pipe_input() as pipe:
        pipe.send_text("in 10 -> dense 5\nin 10 -> dense 6\n:quit\n")
        pipe.close()
        assert repl.run(stdout=out, stderr=err, input=pipe, output=DummyOutput()) == 0
    assert "total: 55" in out.getvalue()
    assert "total: 66" in out.getvalue()
    assert err.getvalue().count("\n") == 1
    assert "No space left on device" in err.getvalue()


# --- no user text reaches SymPy -----------------------------------------------------------------

PAYLOAD = "__import__('os').system('touch pwned') or 5"


@pytest.mark.parametrize(
    "line",
    [
        f":set n={PAYLOAD}",
        f":set n=5 m={PAYLOAD}",
        f"in {PAYLOAD} -> dense 2",
        f"in 3 -> dense {PAYLOAD}",
        f":solve {PAYLOAD} 19M",
        f":solve h {PAYLOAD}",
        f":match {PAYLOAD}",
        f":leading {PAYLOAD}",
        f":compare {PAYLOAD}",
        f":convention {PAYLOAD}",
        f":unset {PAYLOAD}",
    ],
)
def test_injection_through_a_line_is_an_error(line: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    session = repl.Session()
    session.handle("in 3 -> dense h")
    out = session.handle(line)
    assert out.startswith("error: ")
    assert session.handle("in n -> dense 2").startswith("in n -> dense 2")  # nothing got bound
    assert "symbols: n" in session.handle("in n -> dense 2")
    assert list(tmp_path.iterdir()) == []


def test_injection_through_python_bindings_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(derive.DeriveError, match="n must be a positive whole number, not the text"):
        repl.Session(bindings={"n": PAYLOAD})  # type: ignore[dict-item]
    with pytest.raises(derive.DeriveError, match="must be a positive integer"):
        repl.Session(bindings={"n": 2.5})  # type: ignore[dict-item]
    assert repl.Session(bindings={"n": "4_096"}).bindings == {"n": 4096}  # type: ignore[dict-item]
    assert list(tmp_path.iterdir()) == []


def test_injection_through_derive_repl_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    out = io.StringIO()
    status = derive.cli.main(["repl", "--set", f"n={PAYLOAD}"], stdin=io.StringIO("in n -> dense 2\n"), stdout=out)
    assert status == 2
    assert out.getvalue() == ""
    assert "expected NAME=VALUE" in capsys.readouterr().err  # argparse's usage error
    assert list(tmp_path.iterdir()) == []


def test_definitions_typed_at_the_prompt_last_for_the_session() -> None:
    session = repl.Session()
    assert session.handle("block pair w = dense w -> relu -> dense w") == "defined: pair"
    answer = session.handle("in 4 -> pair 8 -> dense 2")
    # pair 8 on 4 inputs: dense 4 -> 8 (4*8 + 8) and dense 8 -> 8 (8*8 + 8); then dense 8 -> 2 (8*2 + 2)
    assert answer.splitlines()[-1] == f"total: {(4 * 8 + 8) + (8 * 8 + 8) + (8 * 2 + 2)}"
    # a definition typed with a part is kept too, and may call the earlier one
    assert session.handle("block quad w = pair w -> pair w ; in 2 -> quad 3").splitlines()[-1] == (
        f"total: {(2 * 3 + 3) + (3 * 3 + 3) + 2 * (3 * 3 + 3)}"
    )
    assert session.handle(":defs").splitlines() == [
        "block pair w = dense w -> relu -> dense w",
        "block quad w = pair w -> pair w",
    ]
    assert "did you mean 'pair'?" in session.handle("in 2 -> pairr 2")
    assert "pair" in session.names()
    assert "quad" in session.names()
    assert "sutskever2014" in session.names()


def test_a_later_definition_replaces_an_earlier_one() -> None:
    session = repl.Session()
    session.handle("block b w = dense w")
    session.handle("block b w = dense w -> dense w")
    assert session.handle(":defs") == "block b w = dense w -> dense w"
    assert session.handle("in 2 -> b 3").splitlines()[-1] == f"total: {(2 * 3 + 3) + (3 * 3 + 3)}"


def test_depth_opens_block_calls_in_later_tables() -> None:
    session = repl.Session()
    session.handle("block pair w = dense w -> dense w")
    closed = session.handle("in 4 -> pair 8")
    assert session.handle(":depth 1") == "depth: 1"
    opened = session.handle("in 4 -> pair 8")
    assert "1.1" not in closed
    assert "1.1" in opened
    assert "takes a whole number" in session.handle(":depth deep")


def test_completion_offers_the_sessions_blocks_and_the_prelude_nets() -> None:
    from prompt_toolkit.completion import CompleteEvent
    from prompt_toolkit.document import Document

    session = repl.Session()
    session.handle("block pairwise w = dense w")
    found = {c.text for c in repl.completer(session).get_completions(Document("in 3 -> pairw"), CompleteEvent())}
    assert "pairwise" in found
    nets = {c.text for c in repl.completer(session).get_completions(Document("sutsk"), CompleteEvent())}
    assert "sutskever2014" in nets


# --- :flops and :memory -------------------------------------------------------------------------


def test_flops_and_memory_use_the_sessions_t_and_b() -> None:
    # One LSTM of 16 on 8-wide embeddings, 2·T·4·16·(8 + 16) FLOPs a sequence: T = 10, B = 3.
    _, _, flops, macs, memory = answers(
        "in 100 -> embed 8 -> lstm 16", ":set T=10 B=3", ":flops train", ":flops macs", ":memory bf16 adam"
    )
    forward = 3 * 2 * 10 * 4 * 16 * 24
    assert f"FLOPs, forward, for a batch of 3: {forward:,}" in flops
    assert f"FLOPs, training (forward and backward, ≈ 3 × forward): {3 * forward:,}" in flops
    assert f"MACs, forward, for a batch of 3: {forward // 2:,}" in macs
    params = 100 * 8 + 4 * 16 * (8 + 16) + 4 * 16
    assert f"total        {16 * params:,}" in memory  # 2 + 2 + 12 bytes a parameter


def test_flops_and_memory_refuse_words_they_do_not_take() -> None:
    _, flops, memory = answers("in 10 -> dense 5", ":flops mac", ":memory fp8")
    assert "error: :flops takes 'macs' and 'train', not 'mac'" in flops
    assert "error: unknown data type 'fp8'" in memory
