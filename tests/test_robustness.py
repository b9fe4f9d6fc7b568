"""No input breaks derive, and nothing it reads is executed.

Every input ends in a result or a DeriveError (exit 2 at the command line): never a traceback,
a hang, or exit 1. The fuzzing below feeds random text, mutated specs and random valid specs.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import derive
from conftest import ROOT, run_cli
from derive import model

BUILTINS = {"eval", "exec", "compile", "__import__"}  # as bare names: re.compile is harmless
SYMPY = {"sympify", "parse_expr", "S"}  # bare or as sp.sympify(...): SymPy's parsers run eval


def code_execution_calls(source: str) -> list[str]:
    """Calls in ``source`` that could run text as code: eval(...), sp.sympify(...), S("..."), ..."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            bare = isinstance(node.func, ast.Name)
            name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
            if name in SYMPY or (bare and name in BUILTINS):
                found.append(f"line {node.lineno}: {name}(...)")
    return found


def test_the_scanner_finds_code_execution() -> None:
    planted = "import sympy as sp\ndef f(text):\n    return sp.sympify(text)\n"
    assert code_execution_calls(planted) == ["line 3: sympify(...)"]
    assert code_execution_calls("from sympy import S\nS('x + 1')\neval(t)\n") == ["line 2: S(...)", "line 3: eval(...)"]
    assert code_execution_calls("import re\nre.compile('x')\n") == []


@pytest.mark.parametrize("path", sorted((ROOT / "derive").glob("*.py")), ids=lambda p: p.name)
def test_the_package_never_executes_text(path: Path) -> None:
    assert code_execution_calls(path.read_text(encoding="utf-8")) == []


def test_symbols_are_made_from_identifiers_only() -> None:
    for bad in ["a+b", "__import__('os')", "x y", "", "1n"]:
        with pytest.raises(derive.DeriveError):
            model.symbol(bad)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("in " + "9" * (model.MAX_DIGITS + 1) + " -> dense 3", "digits; the limit is 1,000"),
        ("in " + "*".join(["9" * 900] * 3) + " -> dense 3", "too large: it has more than 1,000 digits"),
        (
            "in 3 -> dense " + "(" * (model.MAX_NESTING + 1) + "3" + ")" * (model.MAX_NESTING + 1),
            "nested more than 100",
        ),
        ("in 1 " + "-> dense 1 " * (model.MAX_LAYERS + 1), "10,001 layers; the limit is 10,000"),
        ("in 1 -> dense 1 " + "#" * model.MAX_LENGTH, "characters long; the limit is 200,000"),
    ],
)
def test_limits_are_clear_errors(spec: str, message: str) -> None:
    run = run_cli(spec)
    assert run.status == 2
    assert message in run.err
    assert "^" in run.err
    assert max(len(line) for line in run.err.splitlines()) < 200  # a window, not the whole line


def test_within_the_limits_everything_is_exact() -> None:
    big = 10**900 - 1
    assert int(derive.count(f"in {big} -> dense {big}")) == big * big + big
    deep = "(" * model.MAX_NESTING + "3" + ")" * model.MAX_NESTING
    assert int(derive.count(f"in 4 -> dense {deep}")) == 4 * 3 + 3
    assert int(derive.count("in 10 -> dense 10 x 1000000000000000000000000")) == 10**24 * 110
    chain = "in 10 " + "-> dense 10 " * model.MAX_LAYERS
    assert int(derive.count(chain)) == model.MAX_LAYERS * 110
    comments = "in 10 # (((((((((((((((((((((((((((((((((((((((((((((((((" * 10 + "\n -> dense 1"
    assert int(derive.count(comments)) == 11


def test_batch_answers_every_line() -> None:
    lines = ["in 3 -> lstm 2", "in 3 ->", "in 3 -> lstmm 2", "in 10 -> dense 5", "in 3 -> dense 0"]
    run = run_cli("-", "--json", stdin="\n".join(lines) + "\n")
    assert run.status == 2
    answers = run.lines
    assert [a["spec"] for a in answers] == lines
    assert [a.get("total") for a in answers] == [48, None, None, 55, None]
    assert answers[1]["error"]["line"] == 2
    assert answers[2]["error"] == {
        "message": "unknown layer kind 'lstmm' — did you mean 'lstm'?",
        "line": 3,
        "column": 9,
    }
    assert "line 5, column 15" in run.err


def test_batch_reports_a_binding_no_spec_uses() -> None:
    run = run_cli("-", "--set", "nn=3", stdin="in n -> dense 2\n")
    assert run.status == 2
    assert "--set nn: no spec uses this symbol" in run.err


# Fuzzing. Every outcome is a result or a DeriveError; at the command line, exit 0 or 2.

VALID = [
    "in 205 -> lstm 700 x5 -> dense 205",
    "in 39 -> lstm 1024 (proj=256) x2 -> lstm 1024 (proj=256, nproj=256) -> dense 34 using sak2014",
    "in m -> bilstm n (bias=double, peephole) x L -> dense 2*(k+1)",
    "in V -> embed d -> gru d (reset_after=false) -> dense V (tied, nobias)",
]
ALPHABET = st.sampled_from([*"in->lstmgrudensebiaxp0123456789()=,+-*/#_ \n\tLnh", "\x00", "é", "→", "\u202e"])


def _outcome(text: str) -> None:
    try:
        result = derive.count(text)
        result.text()
        result.as_dict()
    except derive.DeriveError as error:
        rendered = error.render()
        assert rendered.startswith("error: ")
    run = run_cli(text)
    assert run.status in (0, 2), run.err
    assert "Traceback" not in run.err


# DERIVE_FUZZ_EXAMPLES=5000 makes a longer fuzzing run (a few minutes), as docs/errors.md says.
FUZZ = settings(
    max_examples=int(os.environ.get("DERIVE_FUZZ_EXAMPLES", "300")),
    deadline=5000,
    suppress_health_check=[HealthCheck.too_slow],
)


@FUZZ
@given(st.text(ALPHABET, max_size=80))
def test_random_text(text: str) -> None:
    _outcome(text)


@FUZZ
@given(st.text(max_size=60))
def test_random_unicode(text: str) -> None:
    _outcome(text)


@st.composite
def mutated(draw: st.DrawFn) -> str:
    tokens = draw(st.sampled_from(VALID)).split(" ")
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(tokens) - 1))
        how = draw(st.sampled_from(["delete", "duplicate", "swap", "insert"]))
        if how == "delete" and len(tokens) > 1:
            del tokens[at]
        elif how == "duplicate":
            tokens.insert(at, tokens[at])
        elif how == "swap":
            other = draw(st.integers(0, len(tokens) - 1))
            tokens[at], tokens[other] = tokens[other], tokens[at]
        else:
            tokens.insert(
                at, draw(st.sampled_from(["(", ")", "x", "->", "0", "-1", "\x07", "ü", "using", "7/2", "=", ","]))
            )
    return " ".join(tokens)


@FUZZ
@given(mutated())
def test_mutated_specs(text: str) -> None:
    _outcome(text)


SIZE = st.one_of(st.integers(1, 10**6).map(str), st.sampled_from(["n", "h", "2*n", "(n+1)", "d_model", "7-3"]))


@st.composite
def valid_specs(draw: st.DrawFn) -> str:
    layers = []
    using = draw(st.sampled_from(["", " using pytorch", " using graves2013", " using sak2014", " using plain"]))
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["dense", "rnn", "gru", "lstm", "bilstm", "bigru", "linear", "embed"]))
        options = {
            "dense": ["nobias", "tied=false"],
            "embed": [],
            "rnn": ["bias=double"],
            "gru": ["reset_after=false", "bias=none"],
            "lstm": ["peephole", "proj=3", "nproj=p", "bias=double"],
            "bilstm": ["peephole", "proj=r"],
            "bigru": ["reset_after=true"],
            "linear": ["bias=none"],
        }[kind]
        if using == " using pytorch":  # torch.nn.LSTM requires proj_size < hidden_size
            options = [o for o in options if not o.startswith("proj=")]
        chosen = draw(st.lists(st.sampled_from(options), unique=True, max_size=2)) if options else []
        text = f"{kind} {draw(SIZE)}" + (f" ({', '.join(chosen)})" if chosen else "")
        if draw(st.booleans()):
            text += f" x{draw(st.sampled_from(['2', '5', 'L', ' (L+1)', '1000000000000']))}"
        layers.append(text)
    return f"in {draw(SIZE)} -> " + " -> ".join(layers) + using


@FUZZ
@given(valid_specs())
def test_random_valid_specs_count(text: str) -> None:
    result = derive.count(text)  # valid: must not raise
    assert result.total.free_symbols or int(result) >= 0
    _outcome(text)


# The process: signals and the standard streams, with real subprocesses, for both ways of
# starting derive. Nothing here may end in "internal error" or a traceback.


def _commands() -> list[list[str]]:
    script = shutil.which("derive", path=str(Path(sys.executable).parent)) or "derive"  # next to this Python
    return [[sys.executable, "-m", "derive"], [script]]


COMMANDS = pytest.mark.parametrize("command", _commands(), ids=["python -m derive", "console script"])
POSIX = pytest.mark.skipif(os.name != "posix", reason="POSIX signals and descriptors")

INTERRUPT_WHILE_IMPORTING = """
import os, signal, sys

class _Interrupt:
    # Ctrl-C at the moment SymPy starts to load, in the middle of derive's start-up.
    def find_spec(self, name, path=None, target=None):
        if name == "sympy":
            sys.meta_path.remove(self)
            os.kill(os.getpid(), signal.SIGINT)
        return None

sys.meta_path.insert(0, _Interrupt())
"""


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return {**env, **extra}


@POSIX
@COMMANDS
def test_ctrl_c_during_start_up_exits_130_quietly(command: list[str], tmp_path: Path) -> None:
    (tmp_path / "sitecustomize.py").write_text(INTERRUPT_WHILE_IMPORTING, encoding="utf-8")
    done = subprocess.run(
        [*command, "in 3 -> lstm 2"],
        cwd=tmp_path,
        env=_env(PYTHONPATH=str(tmp_path)),
        capture_output=True,
        text=True,
        check=False,
    )
    assert (done.returncode, done.stdout, done.stderr) == (130, "", "")


@POSIX
@COMMANDS
@pytest.mark.parametrize("specs", [1, 500], ids=["short output", "long output"])
def test_a_closed_pipe_stops_the_output_quietly(command: list[str], specs: int, tmp_path: Path) -> None:
    # As in derive - < specs.txt | head -1, with the reader gone before the first write, so that
    # every write fails: at the last flush (short output) or in the middle of the batch (long).
    read, write = os.pipe()
    os.close(read)
    try:
        done = subprocess.run(
            [*command, "-"],
            input="in 3 -> lstm 2\n" * specs,
            stdout=write,
            stderr=subprocess.PIPE,
            cwd=tmp_path,
            env=_env(),
            text=True,
            check=False,
        )
    finally:
        os.close(write)
    assert (done.returncode, done.stderr) == (141, "")


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
@COMMANDS
@pytest.mark.parametrize("argv", [["in 3 -> lstm 2"], ["--help"], ["check", "docs/examples/paper.tsv"]], ids=" ".join)
def test_a_full_disk_is_one_line_and_status_74(command: list[str], argv: list[str]) -> None:
    with open("/dev/full", "w") as full:
        done = subprocess.run(
            [*command, *argv], stdout=full, stderr=subprocess.PIPE, cwd=ROOT, env=_env(), text=True, check=False
        )
    assert (done.returncode, done.stderr) == (74, "derive: cannot write to standard output: No space left on device\n")


def _shell(redirect: str, command: list[str], *argv: str) -> subprocess.CompletedProcess[str]:
    """Run the command with a descriptor closed by the shell, as a user would: derive - <&-."""
    script = f'exec "$@" {redirect}'
    return subprocess.run(["sh", "-c", script, "sh", *command, *argv], capture_output=True, env=_env(), text=True)


@POSIX
@COMMANDS
@pytest.mark.parametrize(
    ("redirect", "argv", "status", "message"),
    [
        (">&-", ["in 3 -> lstm 2"], 74, "derive: standard output is closed\n"),
        ("<&-", ["-"], 74, "derive: standard input is closed\n"),
        ("<&-", [], 74, "derive: standard input is closed\n"),
        ("<&-", ["in 3 -> lstm 2"], 0, ""),  # standard input is not needed
    ],
    ids=["stdout closed", "stdin closed, -", "stdin closed, no spec", "stdin closed, unused"],
)
def test_a_closed_stream_is_one_line(
    command: list[str], redirect: str, argv: list[str], status: int, message: str
) -> None:
    done = _shell(redirect, command, *argv)
    assert (done.returncode, done.stderr) == (status, message)


@POSIX
@COMMANDS
def test_a_closed_standard_error_loses_only_the_messages(command: list[str]) -> None:
    good = _shell("2>&-", command, "in 3 -> lstm 2")
    assert good.returncode == 0
    assert "total: 48" in good.stdout
    bad = _shell("2>&-", command, "in 3 -> lstmm 2")
    assert (bad.returncode, bad.stdout) == (2, "")
