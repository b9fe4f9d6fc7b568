"""The command line: output, JSON schema, batch mode, bindings, exit status, error texts."""

from __future__ import annotations

import importlib.metadata
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import derive
import derive.cli
from conftest import ROOT, WORKERS_LISTED, interrupt_when_workers_start, run_cli, sessions

GOLDEN = Path(__file__).with_name("golden")


def test_every_error_has_line_column_and_caret() -> None:
    for session in sessions((GOLDEN / "errors.txt").read_text(encoding="utf-8"), "errors.txt"):
        err = session.run(GOLDEN).err
        assert err.startswith("error: ")
        if "--> line" in err:
            assert "^" in err, session.command


def test_json_schema() -> None:
    data = run_cli("in 39 -> lstm 1024 x3 -> dense 34", "--json").json
    assert set(data) >= {"spec", "convention", "total", "short", "formula", "latex", "symbols", "layers"}
    assert data["spec"] == "in 39 -> lstm 1024 x3 -> dense 34"
    assert data["convention"] == "keras"
    assert data["total"] == 21_178_402
    assert data["short"] == "21.2M"
    assert data["formula"] == "21178402"
    assert data["symbols"] == []
    lstm, dense = data["layers"]
    assert set(lstm) >= {"kind", "in", "out", "repeat", "params", "formula", "latex"}
    assert (lstm["kind"], lstm["in"], lstm["out"], lstm["repeat"]) == ("lstm", "39", "1024", "3")
    # 4·1024·(39 + 1024 + 1) + 2 · 4·1024·(1024 + 1024 + 1)
    assert lstm["params"] == 4 * 1024 * 1064 + 2 * 4 * 1024 * 2049
    assert dense["params"] == 1024 * 34 + 34
    assert isinstance(lstm["params"], int)


def test_json_symbolic_values_are_strings() -> None:
    data = run_cli("in m -> lstm n", "--json").json
    assert data["total"] == "4*m*n + 4*n**2 + 4*n"
    assert data["short"] is None
    assert data["layers"][0]["params"] == "4*m*n + 4*n**2 + 4*n"


def test_set_binds_symbols() -> None:
    run = run_cli("in m -> lstm n", "--set", "m=205", "--set", "n=700", "--json")
    assert run.json["total"] == 4 * 700 * (205 + 700 + 1)
    assert run.json["symbols"] == []
    partly = run_cli("in m -> lstm n", "-s", "n=700", "--json").json
    assert partly["symbols"] == ["m"]
    assert partly["total"] == "2800*m + 1962800"


@pytest.mark.parametrize("binding", ["n", "n=", "n=0", "n=-3", "n=7.5", "1n=3", "n=abc"])
def test_bad_binding_is_a_usage_error(binding: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert derive.cli.main(["in m -> lstm n", "--set", binding]) == 2
    assert "NAME=VALUE" in capsys.readouterr().err


def test_batch_from_standard_input() -> None:
    text = "in 3 -> lstm 2\n\n# a comment\nin 3 -> lstmm 2\nin 10 -> dense 5\n"
    run = run_cli("-", "--json", stdin=text)
    assert run.status == 2
    assert [line.get("total") for line in run.lines] == [48, None, 55]
    assert run.lines[1]["error"]["line"] == 4
    assert "line 4, column 9" in run.err
    assert "did you mean 'lstm'?" in run.err


def test_batch_without_argument_reads_standard_input() -> None:
    run = run_cli(stdin="in 3 -> lstm 2\nin 10 -> dense 5\n")
    assert run.status == 0
    assert run.out.count("total: ") == 2


def test_batch_set_applies_where_the_symbol_is_used() -> None:
    run = run_cli("-", "--json", "--set", "n=2", stdin="in 3 -> lstm n\nin 10 -> dense 5\n")
    assert run.status == 0, run.err
    assert [line["total"] for line in run.lines] == [48, 55]


def test_latex_output() -> None:
    run = run_cli("in 205 -> lstm 700 x5 -> dense 205", "--latex")
    assert run.out.startswith("\\begin{align*}")
    assert "18\\,371\\,705" in run.out
    assert run.out.rstrip().endswith("\\end{align*}")


def test_version_matches_the_package_metadata(capsys: pytest.CaptureFixture[str]) -> None:
    assert derive.cli.main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"derive {importlib.metadata.version('derive')}"


def test_help_names_the_flags(capsys: pytest.CaptureFixture[str]) -> None:
    assert derive.cli.main(["--help"]) == 0
    out = capsys.readouterr().out
    for flag in ("--convention", "--set", "--json", "--latex", "--version", "graves2013"):
        assert flag in out


def test_an_internal_error_exits_1_without_a_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **options: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(derive.cli, "count", broken)
    run = run_cli("in 3 -> lstm 2")
    assert run.status == 1
    assert "bug" in run.err
    assert "boom" in run.err
    assert "Traceback" not in run.err


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    return env


def _elsewhere(argv: list[str], where: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=where, capture_output=True, text=True, env=_env(), check=False)


def test_python_m_derive_from_another_directory(tmp_path: Path) -> None:
    done = _elsewhere([sys.executable, "-m", "derive", "in 205 -> lstm 700 x5 -> dense 205"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert "total: 18,371,705 (18.4M)" in done.stdout


def test_console_script_from_another_directory(tmp_path: Path) -> None:
    script = shutil.which("derive", path=str(Path(sys.executable).parent))
    assert script, "the derive console script is not installed next to this Python"
    done = _elsewhere([script, "in 205 -> lstm 700 x5 -> dense 205", "--convention", "graves2013"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert "total: 21,252,205 (21.3M)" in done.stdout
    bad = _elsewhere([script, "in 205 -> lstmm 7"], tmp_path)
    assert bad.returncode == 2
    assert "Traceback" not in bad.stderr
    assert "^^^^^" in bad.stderr


def test_grammar_ships_with_the_package() -> None:
    from importlib import resources

    text = resources.files("derive.grammar").joinpath("derive.lark").read_text(encoding="utf-8")
    assert text == (ROOT / "grammar" / "derive.lark").read_text(encoding="utf-8")


def test_one_shot_cli_imports_only_what_it_needs(tmp_path: Path) -> None:
    # Cold start is measured in bench/; this checks the imports that would slow it down.
    script = (
        "import sys, io, derive.cli\n"
        "derive.cli.main(['in 205 -> lstm 700 (proj=3) x5 -> bigru 7 -> dense 205'], stdout=io.StringIO())\n"
        "print(sorted(m for m in sys.modules if m.startswith(('prompt_toolkit', 'derive.repl',"
        " 'sympy.tensor.tensor', 'sympy.combinatorics', 'lark', 'multiprocessing', 'derive.parallel',"
        " 'derive.compute', 'difflib'))))\n"
        "print(sys.modules['derive.parse'].prelude()._pending)\n"  # built-in layers only: the prelude is not read
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["[]", "None"]


# Batch input: every line gets its answer or its error, whatever the line holds.


def _break_on_lstm(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make derive fail on every spec with an LSTM, as a bug would."""
    real = derive.cli.count

    def broken_on_lstm(spec: str, convention: str | None = None, **options: Any) -> derive.Result:
        if "lstm" in spec:
            raise OverflowError("int too large to convert to float")
        return real(spec, convention, **options)

    monkeypatch.setattr(derive.cli, "count", broken_on_lstm)


def test_batch_goes_on_after_an_internal_error(monkeypatch: pytest.MonkeyPatch) -> None:
    _break_on_lstm(monkeypatch)
    run = run_cli("-", "--json", stdin="in 10 -> dense 5\nin 3 -> lstm 2\nin 3 -> dense 0\nin 4 -> dense 2\n")
    assert run.status == 1  # the worst: a bug (1) over a mistake (2) over success (0)
    answers = run.lines
    assert [a["spec"] for a in answers] == ["in 10 -> dense 5", "in 3 -> lstm 2", "in 3 -> dense 0", "in 4 -> dense 2"]
    assert [a.get("total") for a in answers] == [10 * 5 + 5, None, None, 4 * 2 + 2]
    assert answers[1]["error"] == {
        "message": "internal error: OverflowError: int too large to convert to float",
        "line": 2,
        "column": None,
    }
    assert "derive: internal error on line 2: OverflowError" in run.err
    assert "This is a bug in derive" in run.err
    assert "line 3, column 15" in run.err  # the mistake on the next line is still reported
    assert "Traceback" not in run.err


def test_batch_reports_a_line_that_is_not_utf8_and_goes_on() -> None:
    data = b"in 3 -> lstm 2\nin 10 -> dense 5 # caf\xe9 (latin-1)\nin 4 -> dense 2\n"
    run = run_cli("-", "--json", stdin=data)
    assert run.status == 2
    run.out.encode("utf-8")  # the output is valid UTF-8: no stray byte reaches it
    first, bad, last = run.lines
    assert (first["total"], last["total"]) == (4 * 2 * (3 + 2 + 1), 4 * 2 + 2)
    assert bad == {
        "spec": "in 10 -> dense 5 # caf\ufffd (latin-1)",
        "error": {"message": "not valid UTF-8: byte 0xe9", "line": 2, "column": 23},
    }
    assert "--> line 2, column 23" in run.err


def test_a_spec_argument_that_is_not_utf8_is_an_error() -> None:
    # A byte that is not UTF-8 in argv reaches Python as a lone surrogate (surrogateescape).
    run = run_cli("in 3 -> lstm 2 # \udcff", "--json")
    assert run.status == 2
    assert run.out == ""
    assert "error: not valid UTF-8: byte 0xff" in run.err
    assert "--> line 1, column 18" in run.err
    match = run_cli("in 3 -> lstm h", "--match", "in 3 -> lstm 2 # \udcff")
    assert match.status == 2
    assert "argument --match: not valid UTF-8" in match.err


def test_batch_drops_a_byte_order_mark_and_crlf_line_ends() -> None:
    run = run_cli("-", "--json", stdin=b"\xef\xbb\xbfin 3 -> lstm 2\r\n# a comment\r\nin 10 -> dense 5\r\n")
    assert run.status == 0, run.err
    assert [(a["spec"], a["total"]) for a in run.lines] == [("in 3 -> lstm 2", 48), ("in 10 -> dense 5", 55)]


def test_batch_reads_a_text_stream_too() -> None:
    out, err = io.StringIO(), io.StringIO()
    status = derive.cli.main(["-", "--json"], stdin=io.StringIO("in 3 -> lstm 2\r\n"), stdout=out, stderr=err)
    assert status == 0, err.getvalue()
    assert json.loads(out.getvalue())["spec"] == "in 3 -> lstm 2"


# A batch in several processes: the same answers, in the same order, on both streams.

_MIXED_BATCH = (
    b"in 3 -> lstm 2\n\n# a comment\nin 3 -> lstmm 2\nin 10 -> dense 5\nin 3 -> lstm n\n"
    b"in 4 -> dense 2 * 3\nin 10 -> dense 5 # caf\xe9\nin 8 -> [dense 8 -> relu] x2\n"
) * 30  # mistakes, a --set symbol, a warning, a line that is not UTF-8: 240 specs, 4 chunks


@pytest.mark.parametrize("form", [[], ["--json"], ["--markdown"], ["--compare"]])
def test_a_batch_in_several_processes_answers_as_one_process_does(form: list[str]) -> None:
    alone = run_cli("-", *form, "--set", "n=2", "--jobs", "1", stdin=_MIXED_BATCH)
    assert alone.status == 2
    assert "did you mean 'lstm'?" in alone.err
    assert "to stack 3 layers" in alone.err
    for jobs in ("2", "3"):
        assert run_cli("-", *form, "--set", "n=2", "--jobs", jobs, stdin=_MIXED_BATCH) == alone


def test_a_batch_in_several_processes_goes_on_after_an_internal_error(monkeypatch: pytest.MonkeyPatch) -> None:
    _break_on_lstm(monkeypatch)  # the workers are forked with it
    text = "in 10 -> dense 5\nin 3 -> lstm 2\nin 3 -> dense 0\n" * 50
    alone = run_cli("-", "--json", "--jobs", "1", stdin=text)
    assert alone.status == 1
    assert run_cli("-", "--json", "--jobs", "2", stdin=text) == alone
    assert alone.err.count("This is a bug in derive") == 50


def test_a_batch_from_a_file_takes_a_process_per_500_lines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from derive import parallel

    path = tmp_path / "specs.txt"
    path.write_text("in 3 -> lstm 2\n" * 1_200, encoding="utf-8")
    monkeypatch.setattr(parallel, "usable_cpus", lambda: 4)
    args = derive.cli.build_parser().parse_args(["-"])
    with path.open(encoding="utf-8") as stdin:
        stdin.buffer.read(15)  # a reader may have taken some already: the lines left count
        assert derive.cli._batch_jobs(args, stdin) == 2  # 1,199 lines left: two processes
        assert stdin.buffer.tell() == 15  # and the file is read from where it was
    assert derive.cli._batch_jobs(args, io.StringIO("in 3 -> lstm 2\n" * 1_200)) == 1  # not a file
    read, write = os.pipe()
    os.close(write)
    with os.fdopen(read, encoding="utf-8") as pipe:  # a pipe: answers as the specs come
        assert derive.cli._batch_jobs(args, pipe) == 1
    told = derive.cli.build_parser().parse_args(["-", "--jobs", "3"])
    with path.open(encoding="utf-8") as stdin:
        assert derive.cli._batch_jobs(told, stdin) == 3
        monkeypatch.setattr(parallel, "can_fork", lambda: False)  # Windows: the batch is answered here
        assert derive.cli._batch_jobs(told, stdin) == 1
        assert derive.cli._batch_jobs(args, stdin) == 1


def test_a_batch_from_a_file_is_answered_in_several_processes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from derive import parallel

    path = tmp_path / "specs.txt"
    path.write_bytes(_MIXED_BATCH)
    started: list[int] = []
    in_processes = parallel.in_processes

    def spy(items: Any, work: Any, jobs: int, *rest: Any) -> Any:
        started.append(jobs)
        return in_processes(items, work, jobs, *rest)

    monkeypatch.setattr(parallel, "in_processes", spy)
    monkeypatch.setattr(parallel, "usable_cpus", lambda: 2)
    monkeypatch.setattr(parallel, "AUTO_ROWS", 100)  # 270 lines: two processes' worth
    out, err = io.StringIO(), io.StringIO()
    with path.open(encoding="utf-8") as stdin:
        status = derive.cli.main(["-", "--json", "--set", "n=2"], stdin=stdin, stdout=out, stderr=err)
    assert started == [2]
    alone = run_cli("-", "--json", "--set", "n=2", "--jobs", "1", stdin=_MIXED_BATCH)
    assert (status, out.getvalue(), err.getvalue()) == (alone.status, alone.out, alone.err)


@pytest.mark.skipif(not WORKERS_LISTED, reason="finds the workers in /proc (Linux)")
def test_ctrl_c_stops_a_batch_in_several_processes_without_a_traceback(tmp_path: Path) -> None:
    path = tmp_path / "specs.txt"
    path.write_text("in 39 -> lstm 1024 x3 -> dense 34\n" * 20_000, encoding="utf-8")
    status, out, err = interrupt_when_workers_start(["-", "--json", "--jobs", "2"], stdin=path)
    assert (status, err) == (130, "")
    answered = out.splitlines()
    assert len(answered) < 20_000  # stopped part of the way, each answer given whole
    assert all(json.loads(line)["total"] == 21_178_402 for line in answered)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["in 3 -> lstm 2", "--jobs", "2"], "--jobs goes with -, a batch of specs on standard input"),
        (["-", "--jobs", "2", "--plot", "x.svg"], "--plot draws one file: a batch with --plot runs in one process"),
        (["-", "--jobs", "-1"], "argument -j/--jobs: expected 0 (one per CPU) or more processes, not -1"),
    ],
)
def test_jobs_of_a_batch_are_checked(argv: list[str], message: str) -> None:
    run = run_cli(*argv, stdin="in 3 -> lstm 2\n")
    assert (run.status, run.out) == (2, "")
    assert message in run.err


# Arguments that argparse takes but cannot check.


def test_compare_before_the_spec_takes_the_spec() -> None:
    spec = "in 10 -> lstm 20 x2"
    flag_first = run_cli("--compare", spec)
    assert flag_first.status == 0, flag_first.err
    assert flag_first.out == run_cli(spec, "--compare").out
    # keras: 4·20·(10 + 20 + 1) + 4·20·(20 + 20 + 1); pytorch adds 4·20 biases per copy
    assert f"keras       {4 * 20 * 31 + 4 * 20 * 41:,}" in flag_first.out
    assert f"pytorch     {4 * 20 * 31 + 4 * 20 * 41 + 2 * 4 * 20:,}" in flag_first.out
    assert run_cli("--json", "--compare", spec).json["compare"].keys() == {
        "keras",
        "pytorch",
        "plain",
        "graves2013",
        "sak2014",
    }


def test_compare_names_stay_names_and_a_dash_is_standard_input() -> None:
    names = run_cli("--compare", "keras, pytorch", "--json", stdin="in 3 -> lstm 2\n")
    assert names.status == 0, names.err
    assert list(names.json["compare"]) == ["keras", "pytorch"]
    dash = run_cli("--compare", "-", "--json", stdin="in 3 -> lstm 2\n")
    assert dash.status == 0, dash.err
    assert len(dash.json["compare"]) == 5
    typo = run_cli("--compare", "pytorc", stdin="in 3 -> lstm 2\n")
    assert typo.status == 2
    assert "did you mean 'pytorch'?" in typo.err


def test_an_empty_convention_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert derive.cli.main(["in 3 -> lstm 2", "--convention", ""]) == 2
    assert "argument -c/--convention: expected one of keras, pytorch" in capsys.readouterr().err


def test_a_symbol_bound_to_two_values_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert derive.cli.main(["in n -> lstm 2", "--set", "n=5", "--set", "n=6"]) == 2
    assert "argument -s/--set: n is bound twice, to 5 and to 6" in capsys.readouterr().err
    same = run_cli("in n -> lstm 2", "--set", "n=5", "-s", "n=5", "--json")  # the same value twice: harmless
    assert same.status == 0, same.err
    assert same.json["total"] == 4 * 2 * (5 + 2 + 1)


# --standalone: always a whole document.

BUDGETS = [
    ["--budget", "19M"],
    ["--budget", "19M", "--solve", "h"],
    ["--match", "in 205 -> lstm 700 x5 -> dense 205"],
    ["--leading", "h"],
]


@pytest.mark.parametrize("flags", BUDGETS, ids=" ".join)
def test_standalone_budget_is_a_whole_document(flags: list[str]) -> None:
    spec = "in 205 -> lstm h x5 -> dense 205"
    run = run_cli(spec, *flags, "--latex", "--standalone")
    assert run.status == 0, run.err
    block = run_cli(spec, *flags, "--latex").out.rstrip("\n")
    document = derive.count("in 3 -> lstm 2").latex(standalone=True).splitlines()
    lines = run.out.rstrip("\n").splitlines()
    assert lines[:5] == document[:5]  # the same preamble as a count's document
    assert lines[-1] == r"\end{document}"
    assert r"\ttfamily in 205 ->\allowbreak{} lstm h x5 ->\allowbreak{} dense 205" in run.out
    assert block in run.out


def test_standalone_budget_compiles(tmp_path: Path) -> None:
    from test_show import pdflatex

    binary = pdflatex()
    run = run_cli("in 205 -> lstm h x5 -> dense 205", "--budget", "19M", "--latex", "--standalone")
    (tmp_path / "budget.tex").write_text(run.out, encoding="utf-8")
    done = subprocess.run(
        [binary, "-interaction=nonstopmode", "-halt-on-error", "budget.tex"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:]


# The usage block of docs/cli.md names every flag.


def test_the_usage_block_in_the_docs_names_every_flag() -> None:
    text = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    usage = text.split("```\n", 2)[1]
    flags = [
        option
        for parser in (derive.cli.build_parser(), derive.cli.build_check_parser())
        for action in parser._actions
        for option in action.option_strings
        if option.startswith("--") and option not in ("--help", "--version", "--debug")
    ]
    missing = [flag for flag in flags if flag not in usage]
    assert missing == []
    assert "derive check FILE" in usage
