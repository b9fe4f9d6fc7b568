"""derive check and derive.testing: stated figures, case files, reports, exit statuses, assert_count.

Expected counts come from tests/published.tsv or from arithmetic written here, never from derive.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conftest import ROOT, WORKERS_LISTED, interrupt_when_workers_start
from derive import check, cli, parallel
from derive.check import CaseFileError, Figure, StatedFigureError
from derive.errors import DeriveError
from derive.testing import assert_count

CORPUS = Path(__file__).with_name("published.tsv")

# Counts written out from their formulas (docs/conventions.md), to hold the figures to.
# Graves 2013: peepholes and biases, layers 2-5 see 700 + 205 inputs, the output sees 5 × 700.
GRAVES = (4 * 700 * (205 + 700) + 7 * 700) + 4 * (4 * 700 * (905 + 700) + 7 * 700) + 5 * 700 * 205 + 205
# The same network under keras: one bias vector per gate, no peepholes, no skip connections.
GRAVES_KERAS = 4 * 700 * (205 + 700 + 1) + 4 * 4 * 700 * (700 + 700 + 1) + 700 * 205 + 205
KERAS_3X1024 = 4 * 1024 * (39 + 1024 + 1) + 2 * 4 * 1024 * (1024 + 1024 + 1) + 1024 * 34 + 34
LSTM_3_2 = 4 * (2 * (2 + 3) + 2)


def test_the_counts_written_out() -> None:
    assert (GRAVES, GRAVES_KERAS, KERAS_3X1024, LSTM_3_2) == (21_252_205, 18_371_705, 21_178_402, 48)


# --- the stated-figure rule ------------------------------------------------------------------

# (exact, stated, holds): the count is divided by the suffix's scale and rounded half up to the
# decimals printed; the figure holds when that is the number printed.
FIGURES = [
    # 21,252,205 / 10**6 = 21.252205
    (21_252_205, "21.3M", True),  # one decimal: 21.3
    (21_252_205, "21.2M", False),  # 21.3, not 21.2
    (21_252_205, "21M", True),  # no decimal: 21
    (21_252_205, "22M", False),
    (21_252_205, "21.25M", True),  # two decimals: 21.25
    (21_252_205, "about 21M", True),  # "about", "~", "≈" change nothing
    (21_252_205, "~21M", True),
    (21_252_205, "\u223c21M", True),  # the tilde operator of LaTeX's \sim
    (21_252_205, "≈ 21M", True),
    (21_252_205, "approx. 21M", True),
    (21_252_205, "About 21 M", True),
    (21_252_205, "21 million", True),
    (21_252_205, "21m", True),  # a lower-case m is a million too
    (21_252_205, "0.0213B", True),  # 0.021252205 to 4 decimals: 0.0213
    (21_252_205, "21,252k", True),  # 21,252.205 to no decimal: 21,252
    # without a suffix a figure is exact
    (21_178_402, "21,178,402", True),
    (21_178_402, "21178402", True),
    (21_178_402, "21\u2009178\u2009402", True),  # thin spaces between the groups
    (21_178_402, "21,178,403", False),
    (21_178_402, "about 21M", True),  # 21.178402 to no decimal: 21
    (164_106, "164,107", False),
    (21_178_402, "about 21,000,000", False),  # no suffix: exact, whatever the words
    (164_106, "164,106", True),
    (164_106, "164,000", False),
    (164_106, "164k", True),  # 164.106 to no decimal: 164
    (164_106, "164K", True),
    (164_106, "0.16M", True),  # 0.164106 to 2 decimals: 0.16
    (164_106, "0.17M", False),
    (48, "48", True),
    (48, "about 48", True),
    (48, "47", False),
    # 6,477,824 / 10**6 = 6.477824
    (6_477_824, "6.5M", True),
    (6_477_824, "6.4M", False),
    (6_477_824, "6.48M", True),
    (6_477_824, "6.47M", False),
    (6_477_824, "≈ 6.5 M", True),
    (6_477_824, "6.5 million", True),
    (18_956_100, "about 19M", True),  # 18.9561 to no decimal: 19
    (18_956_100, "~19M", True),
    # half up, on the exact digits: 21.25 -> 21.3, 21.249999 -> 21.2
    (21_250_000, "21.3M", True),
    (21_250_000, "21.2M", False),
    (21_249_999, "21.2M", True),
    (21_249_999, "21.3M", False),
    (834_000_000, "0.83B", True),  # 0.834 -> 0.83
    (835_000_000, "0.84B", True),  # 0.835 -> 0.84 (half up)
    (835_000_000, "0.83B", False),
    (24_499_999, "24m", True),  # 24.499999 -> 24
    (24_500_000, "24m", False),  # 24.5 -> 25
    (24_500_000, "25m", True),
    (3_749_999, "3.7 million", True),  # 3.749999 -> 3.7
    (3_750_000, "3.7 million", False),  # 3.75 -> 3.8
    (2_500_000_000, "2.5 billion", True),
    (2_549_999_999, "2.5bn", True),  # 2.549999999 -> 2.5
    (12_345, "12 thousand", True),  # 12.345 -> 12
    (12_500, "12 thousand", False),  # 12.5 -> 13
    (1_234_567_890_123, "1.23T", True),  # 1.234567890123 -> 1.23
    # 31 digits, beyond a float's 53 bits and Decimal's default 28 digits, stay exact:
    # (10**30 + 5 * 10**11) / 10**12 = 10**18 + 0.5, which rounds half up to 10**18 + 1
    (10**30 + 5 * 10**11, "1,000,000,000,000,000,001T", True),
    (10**30 + 5 * 10**11 - 1, "1,000,000,000,000,000,001T", False),
    (10**30 + 5 * 10**11 - 1, "1,000,000,000,000,000,000T", True),
]


@pytest.mark.parametrize(("exact", "stated", "expected"), FIGURES)
def test_stated_figure_rule(exact: int, stated: str, expected: bool) -> None:
    assert check.holds(exact, stated) is expected
    assert Figure.parse(stated).holds(exact) is expected


@pytest.mark.parametrize(
    ("stated", "number", "decimals", "scale", "value"),
    [
        ("21.3M", "21.3", 1, 6, 21_300_000),
        ("about 21M", "21", 0, 6, 21_000_000),
        ("0.83B", "0.83", 2, 9, 830_000_000),
        ("164k", "164", 0, 3, 164_000),
        ("3.7 million", "3.7", 1, 6, 3_700_000),
        ("12 thousand", "12", 0, 3, 12_000),
        ("21,178,402", "21178402", 0, 0, 21_178_402),
        ("2.5 billion", "2.5", 1, 9, 2_500_000_000),
        ("1.5T", "1.5", 1, 12, 1_500_000_000_000),
    ],
)
def test_figure_parts(stated: str, number: str, decimals: int, scale: int, value: int) -> None:
    figure = Figure.parse(stated)
    assert (str(figure.number), figure.decimals, figure.scale, figure.value) == (number, decimals, scale, value)
    assert figure.exact is (scale == 0)


@pytest.mark.parametrize(
    ("stated", "count", "shown"),
    [
        ("21.2M", 21_252_205, "21.3M"),
        ("about 21M", 18_371_705, "18M"),
        ("6.5 million", 6_477_824, "6.5 million"),
        ("164,000", 164_106, "164,106"),
        ("164000", 164_106, "164106"),
        ("0.83B", 21_252_205, "0.02B"),
    ],
)
def test_a_count_shown_at_a_figures_precision(stated: str, count: int, shown: str) -> None:
    assert Figure.parse(stated).rounded(count) == shown


@pytest.mark.parametrize(
    ("stated", "words"),
    [
        ("21,3M", "cannot read"),  # a decimal comma
        ("21.3.1M", "cannot read"),
        ("21X", "cannot read"),
        ("21M params", "cannot read"),
        ("21 178 402", "cannot read"),  # ordinary spaces between groups
        ("21,17,8402", "cannot read"),
        ("-5", "cannot read"),
        ("", "cannot read"),
        ("about", "cannot read"),
        ("21M+", "is a bound"),  # more than 21M, or 21M and some: not a rounded count
        ("over 21M", "is a bound"),
        ("> 21M", "is a bound"),
        ("at least 21M", "is a bound"),
        ("48.0", "more precise than one parameter"),  # a count has no decimals
        ("1.2345k", "more precise than one parameter"),
    ],
)
def test_unreadable_figures(stated: str, words: str) -> None:
    with pytest.raises(StatedFigureError) as caught:
        Figure.parse(stated)
    assert words in caught.value.message
    assert isinstance(caught.value, DeriveError)
    assert isinstance(caught.value, ValueError)


# --- reading tables ------------------------------------------------------------------------


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def run_check(*argv: str | Path) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = cli.main(["check", *(str(a) for a in argv)], stdout=out, stderr=err)
    return status, out.getvalue(), err.getvalue()


TSV = (
    "# Table 1 of a paper, with the counts printed beside the models.\n"
    "spec\tconvention\texact\tstated\tsource\n"
    "\n"
    "in 3 -> lstm 2\tkeras\t48\t48\ta worked example\n"
    "in 205 -> lstm 700 x5 -> dense 205\tgraves2013\t\t21M\tGraves 2013\n"
    "in 39 -> lstm 1024 x3 -> dense 34\t\t21,178,402\t\tno convention: keras\n"
    "in 3 -> lstm 2\tpytorch\t56\n"  # the empty columns at the end left out
)


def test_read_tsv(tmp_path: Path) -> None:
    cases = check.read_cases(write(tmp_path, "table.tsv", TSV))
    assert [c.line for c in cases] == [4, 5, 6, 7]
    first, graves, default, short = cases
    assert (first.spec, first.convention, first.exact, str(first.stated), first.source) == (
        "in 3 -> lstm 2",
        "keras",
        48,
        "48",
        "a worked example",
    )
    assert (graves.exact, str(graves.stated)) == (None, "21M")
    assert (default.convention, default.exact, default.stated) == (None, 21_178_402, None)
    assert (short.exact, short.source) == (4 * (2 * (3 + 2) + 2 * 2), "")  # pytorch: two bias vectors


def test_a_table_that_holds(tmp_path: Path) -> None:
    status, out, err = run_check(write(tmp_path, "table.tsv", TSV))
    assert (status, err) == (0, "")
    assert out.splitlines()[-1] == "4 hold, 0 disagree"


@pytest.mark.parametrize(
    ("row", "line", "words"),
    [
        ("in 3 -> lstm 2\tkeras 48 48 source", 3, "expected 5 or 6 tab-separated columns"),
        ("in 3 -> lstm 2\tkeras", 3, "found 2"),
        ("in 3 -> lstm 2\tkeras\t\t", 3, "neither an exact count nor a stated figure"),
        ("in 3 -> lstm 2    keras    48", 3, "found 1"),
        ("in 3 -> lstm 2\tkeras\t48\t48\tsource\ttotal\textra", 3, "found 7"),
        ("in 3 -> lstm 2\tkeras\t48\t48\tsource\textra", 3, "unknown category 'extra'"),
        ("in 3 -> lstm 2\tkeras\t48.5\t\tsource", 3, "exact count must be a whole number, not '48.5'"),
        ("in 3 -> lstm 2\tkeras\tabout 48\t\tsource", 3, "exact count must be a whole number"),
        ("in 3 -> lstm 2\tkeras\t\t\tsource", 3, "neither an exact count nor a stated figure"),
        ("in 3 -> lstm 2\tkeras\t48\t4,8\tsource", 3, "cannot read the stated figure '4,8'"),
        ("in 3 -> lstm 2\tkeras\t48\t48+\tsource", 3, "is a bound"),
        ("\tkeras\t48\t48\tsource", 3, "the spec is empty"),
    ],
)
def test_malformed_tsv(tmp_path: Path, row: str, line: int, words: str) -> None:
    path = write(tmp_path, "bad.tsv", f"# a comment\nin 4096 -> lstm 256\tkeras\t4457472\t\tok\n{row}\n")
    with pytest.raises(CaseFileError) as caught:
        check.read_cases(path)
    error = caught.value
    assert words in error.message
    assert error.line == line
    assert error.path == str(path)
    assert f"{path}, line {line}, column" in str(error)
    # and from the command line: the message on standard error, exit status 2
    status, out, err = run_check(path)
    assert (status, out) == (2, "")
    assert err == str(error) + "\n"
    assert f"line {line}" in err


def test_the_caret_points_at_the_bad_field(tmp_path: Path) -> None:
    path = write(tmp_path, "bad.tsv", "in 3 -> lstm 2\tkeras\t48\t21,3M\tsource\n")
    with pytest.raises(CaseFileError) as caught:
        check.read_cases(path)
    error = caught.value
    assert error.column == len("in 3 -> lstm 2\tkeras\t48\t") + 1
    rendered = str(error).splitlines()
    assert rendered[3] == "1 | in 3 -> lstm 2 keras 48 21,3M source"  # tabs shown as spaces
    assert rendered[4] == "  | " + " " * len("in 3 -> lstm 2 keras 48 ") + "^^^^^"


def test_a_header_may_leave_out_the_last_columns(tmp_path: Path) -> None:
    path = write(tmp_path, "t.tsv", "spec\tconvention\texact\nin 3 -> lstm 2\tkeras\t48\n")
    assert [(c.line, c.exact) for c in check.read_cases(path)] == [(2, 48)]


def test_a_header_must_name_the_columns(tmp_path: Path) -> None:
    path = write(tmp_path, "bad.tsv", "spec\tconv\texact\tstated\tsource\nin 3 -> lstm 2\tkeras\t48\t\t\n")
    with pytest.raises(CaseFileError) as caught:
        check.read_cases(path)
    error = caught.value
    assert (error.line, "spec, convention, exact, stated, source" in error.message) == (1, True)


def test_an_empty_table_is_malformed(tmp_path: Path) -> None:
    status, _, err = run_check(write(tmp_path, "empty.tsv", "# nothing yet\n\n"))
    assert status == 2
    assert "the file has no cases" in err


def test_a_missing_or_unreadable_file(tmp_path: Path) -> None:
    status, _, err = run_check(tmp_path / "missing.tsv")
    assert status == 2
    assert "cannot read the file" in err
    assert "missing.tsv" in err
    binary = tmp_path / "binary.tsv"
    binary.write_bytes(b"in 3 -> lstm 2\tkeras\t48\t\t\n\xff\xfe\n")
    status, _, err = run_check(binary)
    assert status == 2
    assert "not UTF-8" in err
    assert "line 2" in err


TOML = """\
# Table 1, as TOML
[[case]]
spec = "in 3 -> lstm 2"
convention = "keras"
exact = 48
stated = "48"
source = "a worked example"

[[case]]
spec = "in 205 -> lstm 700 x5 -> dense 205"
convention = "graves2013"
stated = "21.3M"

[[case]]
spec = "in 39 -> lstm 1024 x3 -> dense 34"
exact = 21_178_402
"""


def test_read_toml(tmp_path: Path) -> None:
    cases = check.read_cases(write(tmp_path, "table.toml", TOML))
    assert [c.line for c in cases] == [2, 9, 14]
    first, graves, default = cases
    assert (first.spec, first.convention, first.exact, str(first.stated), first.source) == (
        "in 3 -> lstm 2",
        "keras",
        48,
        "48",
        "a worked example",
    )
    assert (graves.exact, str(graves.stated), graves.source) == (None, "21.3M", "")
    assert (default.convention, default.exact, default.stated) == (None, KERAS_3X1024, None)
    assert run_check(tmp_path / "table.toml")[0] == 0


def test_a_toml_integer_is_an_exact_stated_figure(tmp_path: Path) -> None:
    path = write(tmp_path, "table.toml", '[[case]]\nspec = "in 3 -> lstm 2"\nstated = 48\n')
    (case,) = check.read_cases(path)
    assert (case.stated is not None and case.stated.exact, case.exact) == (True, None)


@pytest.mark.parametrize(
    ("change", "line", "words"),
    [
        (('convention = "graves2013"', 'convnetion = "graves2013"'), 11, "unknown key 'convnetion' — did you mean"),
        (('stated = "21.3M"', 'stated = "21,3M"'), 12, "cannot read the stated figure '21,3M'"),
        (('stated = "21.3M"', "stated = 21.3"), 12, "the stated figure must be a string, not a float"),
        (("exact = 21_178_402", 'exact = "21,178,402"'), 16, "the exact count must be a whole number, not a string"),
        (("exact = 21_178_402", "exact = 21178402.0"), 16, "not a float"),
        (("exact = 21_178_402", "exact = true"), 16, "not a boolean"),
        (('stated = "21.3M"', "exact = -1"), 12, "not an integer -1"),
        (('stated = "21.3M"', ""), 9, "neither an exact count nor a stated figure"),
        (('stated = "21.3M"', 'stated = "21.3M'), 12, "invalid TOML"),
        (("# Table 1, as TOML", 'title = "Table 1"'), 1, "unknown key 'title'"),
        (('spec = "in 3 -> lstm 2"', "spec = 3"), 3, "a case needs a spec"),
    ],
)
def test_malformed_toml(tmp_path: Path, change: tuple[str, str], line: int, words: str) -> None:
    text = TOML.replace(*change)
    assert text != TOML
    path = write(tmp_path, "bad.toml", text)
    with pytest.raises(CaseFileError) as caught:
        check.read_cases(path)
    assert words in caught.value.message
    assert caught.value.line == line
    assert f"bad.toml, line {line}, column" in str(caught.value)
    status, out, err = run_check(path)
    assert (status, out, err) == (2, "", str(caught.value) + "\n")


def test_the_format_follows_the_extension(tmp_path: Path) -> None:
    # TOML in a file without the .toml extension is read as TSV, and fails as TSV.
    path = write(tmp_path, "table.txt", TOML)
    with pytest.raises(CaseFileError) as caught:
        check.read_cases(path)
    error = caught.value
    assert "tab-separated columns" in error.message
    assert run_check(write(tmp_path, "TABLE.TOML", TOML))[0] == 0


# --- checking and reports ------------------------------------------------------------------

MIXED = (
    "in 205 -> lstm 700 x5 -> dense 205\tgraves2013\t21252205\t21M\tGraves 2013\n"
    "in 205 -> lstm 700 x5 -> dense 205\tkeras\t\t21M\tthe Graves figure, counted as Keras does\n"
    "in 3 -> lstm 2\tkeras\t50\t\ta typo\n"
    "in 3 -> lstmm 2\tkeras\t48\t\ta misspelt layer\n"
)


def test_exit_status_and_text_report(tmp_path: Path) -> None:
    status, out, err = run_check(write(tmp_path, "mixed.tsv", MIXED))
    assert (status, err) == (1, "")
    lines = out.splitlines()
    assert lines[0].split() == ["line", "result", "derive", "exact", "stated", "difference", "convention", "spec"]
    assert lines[1].split()[:6] == ["1", "holds", f"{GRAVES:,}", f"{GRAVES:,}", "21M", "0"]
    # 18,371,705 is 18M, and 18,371,705 - 21,000,000 = -2,628,295
    assert lines[2].split()[:6] == [
        "2",
        "disagrees",
        f"{GRAVES_KERAS:,}",
        "—",
        "21M",
        f"{GRAVES_KERAS - 21_000_000:+,}",
    ]
    assert lines[3].split()[:6] == ["3", "disagrees", "48", "50", "—", "-2"]
    assert lines[4].split()[:6] == ["4", "error", "—", "48", "—", "—"]
    assert f"derive counts {GRAVES_KERAS:,} under keras, which rounds to 18M, not the stated 21M" in out
    assert "source: the Graves figure, counted as Keras does" in out
    assert "derive counts 48 under keras, not 50 (-2)" in out
    assert "line 4: in 3 -> lstmm 2\n                ^^^^^\n  error: unknown layer kind 'lstmm'" in out
    assert lines[-1] == "1 holds, 2 disagree, 1 error"


def test_json_report(tmp_path: Path) -> None:
    path = write(tmp_path, "mixed.tsv", MIXED)
    status, out, _ = run_check(path, "--json")
    assert status == 1
    data = json.loads(out)
    assert set(data) == {"file", "cases", "held", "failed"}
    assert (data["file"], data["held"], data["failed"]) == (str(path), 1, 3)
    holds, keras, typo, misspelt = data["cases"]
    assert holds == {
        "line": 1,
        "spec": "in 205 -> lstm 700 x5 -> dense 205",
        "convention": "graves2013",
        "category": "total",
        "status": "holds",
        "holds": True,
        "derive": GRAVES,
        "exact": GRAVES,
        "stated": "21M",
        "rounded": "21M",
        "difference": 0,
        "reason": None,
        "source": "Graves 2013",
    }
    assert (keras["status"], keras["derive"], keras["exact"], keras["rounded"]) == (
        "disagrees",
        GRAVES_KERAS,
        None,
        "18M",
    )
    assert keras["difference"] == GRAVES_KERAS - 21_000_000
    assert (typo["difference"], typo["reason"]) == (-2, "derive counts 48 under keras, not 50 (-2)")
    assert (misspelt["status"], misspelt["derive"], misspelt["difference"]) == ("error", None, None)
    assert misspelt["reason"] == "unknown layer kind 'lstmm' — did you mean 'lstm'?"


def test_markdown_report(tmp_path: Path) -> None:
    path = write(tmp_path, "mixed.tsv", MIXED)
    status, out, _ = run_check(path, "--markdown")
    assert status == 1
    lines = out.splitlines()
    assert lines[0] == f"**derive check** `{path}`: 1 holds, 2 disagree, 1 error"
    assert lines[2] == "| | line | spec | convention | derive | exact | stated | difference | source |"
    assert lines[4].startswith(f"| ✅ | 1 | `in 205 -> lstm 700 x5 -> dense 205` | graves2013 | {GRAVES:,} |")
    assert lines[5].startswith("| ❌ | 2 |")
    assert lines[7].startswith("| ❌ | 4 | `in 3 -> lstmm 2` | keras | — | 48 |")
    assert f"- ❌ line 2: derive counts {GRAVES_KERAS:,} under keras, which rounds to 18M, not the stated 21M" in lines
    assert "- ❌ line 4: cannot count the spec: unknown layer kind 'lstmm' — did you mean 'lstm'?" in lines


def test_markdown_cells_escape_pipes(tmp_path: Path) -> None:
    _, out, _ = run_check(write(tmp_path, "t.tsv", "in 3 -> lstm 2\tkeras\t48\t\tA | B\n"), "--markdown")
    assert out.splitlines()[-1].endswith("| A \\| B |")


def test_both_figures_wrong(tmp_path: Path) -> None:
    _, out, _ = run_check(write(tmp_path, "t.tsv", "in 205 -> lstm 700 x5 -> dense 205\tkeras\t21252205\t21M\t\n"))
    assert (
        f"derive counts {GRAVES_KERAS:,} under keras, not {GRAVES:,} ({GRAVES_KERAS - GRAVES:+,}), "
        "and it rounds to 18M, not the stated 21M"
    ) in out


def test_the_difference_is_from_the_figure_that_fails(tmp_path: Path) -> None:
    # exact holds, the stated figure does not: 6,477,824 - 6,400,000
    table = write(tmp_path, "t.tsv", "in 39 -> lstm 1024 (proj=256) x2 -> lstm 1024 (proj=256, nproj=256) -> dense 34")
    table.write_text(table.read_text() + "\tsak2014\t6477824\t6.4M\tSak 2014\n")
    data = json.loads(run_check(table, "--json")[1])
    assert data["cases"][0]["difference"] == 6_477_824 - 6_400_000


@pytest.mark.parametrize(
    ("row", "words"),
    [
        ("in m -> lstm n\tkeras\t48\t\t", "free symbols (m, n)"),
        ("in 3 -> lstm 2\tkerass\t48\t\t", "unknown convention 'kerass'"),
        ("in 3 -> lstm 2 using plain\tkeras\t48\t\t", "says 'using plain'"),
    ],
)
def test_a_spec_that_cannot_be_counted_fails_its_row(tmp_path: Path, row: str, words: str) -> None:
    status, out, err = run_check(write(tmp_path, "t.tsv", row + "\nin 3 -> lstm 2\tkeras\t48\t\t\n"))
    assert (status, err) == (1, "")
    assert words in out
    assert out.splitlines()[-1] == "1 holds, 0 disagree, 1 error"


def test_using_in_the_spec_decides_when_the_convention_is_empty(tmp_path: Path) -> None:
    row = "in 205 -> lstm 700 x5 -> dense 205 using graves2013\t\t21252205\t\t\n"
    data = json.loads(run_check(write(tmp_path, "t.tsv", row), "--json")[1])
    assert (data["cases"][0]["convention"], data["failed"]) == ("graves2013", 0)


@pytest.mark.parametrize("argv", [[], ["a.tsv", "b.tsv"], ["a.tsv", "--json", "--markdown"], ["--nope", "a.tsv"]])
def test_usage_errors(argv: list[str]) -> None:
    status, out, err = run_check(*argv)
    assert (status, out) == (2, "")
    assert err.startswith("usage: derive check")


def test_help() -> None:
    status, out, _ = run_check("--help")
    assert status == 0
    assert out.startswith("usage: derive check [-h] [--json | --markdown] [-j N] FILE")


# --- hostile tables: huge numbers, deep nesting, control characters, devices, Ctrl-C ---------

# Python reads at most 4,300 digits from a string into an int; derive refuses more than 1,000
# (the limit on a number in a spec) with an error that names the row, before Python would.
HUGE = "9" * 5_000


@pytest.mark.parametrize(
    ("name", "text", "line", "words"),
    [
        ("exact.tsv", f"in 3 -> lstm 2\tkeras\t48\t\tok\nin 3 -> lstm 2\tkeras\t{HUGE}\t\t\n", 2, "5,000 digits"),
        ("exact.tsv", f"in 3 -> lstm 2\tkeras\t{'9' * 1_001}\t\t\n", 1, "1,001 digits; the limit is 1,000"),
        ("stated.tsv", f"in 3 -> lstm 2\tkeras\t\t{HUGE}\t\n", 1, "the stated figure has 5,000 digits"),
        ("stated.tsv", f"in 3 -> lstm 2\tkeras\t\t{HUGE}.5M\t\n", 1, "the stated figure has 5,001 digits"),
        ("exact.toml", f'[[case]]\nspec = "in 3 -> lstm 2"\nexact = {HUGE}\n', 3, "a number has more than 1,000"),
        ("exact.toml", f'[[case]]\nspec = "in 3 -> lstm 2"\nexact = {"9" * 2_000}\n', 3, "more than 1,000 digits"),
        ("hex.toml", f'[[case]]\nspec = "in 3 -> lstm 2"\nexact = 0x{"f" * 5_000}\n', 3, "more than 1,000 digits"),
        ("stated.toml", f'[[case]]\nspec = "in 3 -> lstm 2"\nstated = "{HUGE}"\n', 3, "5,000 digits"),
        ("stated.toml", f'[[case]]\nspec = "in 3 -> lstm 2"\nstated = 0x{"f" * 5_000}\n', 3, "more than 1,000"),
    ],
)
def test_a_figure_of_thousands_of_digits_is_refused(
    tmp_path: Path, name: str, text: str, line: int, words: str
) -> None:
    path = write(tmp_path, name, text)
    status, out, err = run_check(path)
    assert (status, out) == (2, "")
    assert words in err.splitlines()[0]
    assert f"{path}, line {line}, column" in err


def test_a_stated_figure_of_thousands_of_digits_in_assert_count() -> None:
    with pytest.raises(StatedFigureError) as caught:
        assert_count("in 3 -> lstm 2", HUGE)
    assert caught.value.message == "the stated figure has 5,000 digits; the limit is 1,000"


@pytest.mark.parametrize(
    ("value", "line"),
    [
        ("[" * 5_000 + "]" * 5_000, 4),  # arrays
        ("{a = " * 5_000 + "1" + "}" * 5_000, 4),  # inline tables
        ("[\n" * 5_000 + "]\n" * 5_000, 4 + 100),  # the bracket past 100 deep, on its own line
    ],
)
def test_toml_nested_thousands_deep(tmp_path: Path, value: str, line: int) -> None:
    path = write(tmp_path, "deep.toml", f'[[case]]\nspec = "in 3 -> lstm 2"\nexact = 48\nnotes = {value}\n')
    status, out, err = run_check(path)
    assert (status, out) == (2, "")
    assert err.startswith("error: invalid TOML: arrays or inline tables nested more than 100 deep\n")
    assert f"deep.toml, line {line}, column" in err


def test_a_deep_table_that_toml_reads_is_shown_by_its_type(tmp_path: Path) -> None:
    # Dotted keys nest without recursion in Python 3.11's tomllib: the table is read, and the
    # message must not print the value. tomli (Python 3.10's reader) recurses on them: the
    # file is refused as too deep, in one line, with no bracket to point at.
    path = write(
        tmp_path, "deep.toml", '[[case]]\nspec = "in 3 -> lstm 2"\nstated.' + ".".join(["a"] * 5_000) + " = 1\n"
    )
    status, _, err = run_check(path)
    assert status == 2
    if sys.version_info >= (3, 11):
        assert err.startswith("error: the stated figure must be a string, not a table\n")
    else:
        assert err.startswith("error: invalid TOML: keys nested deeper than the TOML reader can follow\n")
    assert len(err) < 500


ESCAPES = "\x1b[2J\x1b]0;pwned\x07\x9b31m\u202e"  # clear the screen, set the title, C1 CSI, right-to-left
ESCAPED = "\\x1b[2J\\x1b]0;pwned\\x07\\x9b31m\\u202e"


def test_control_characters_are_escaped_in_the_text_report(tmp_path: Path) -> None:
    table = (
        f"in 3 -> lstm 2\tkeras\t49\t\tsource {ESCAPES}\n"  # disagrees: its source is shown
        f"in 3 -> lstm \x1b[31m2\tkeras\t48\t\t\n"  # cannot be counted: its spec, the message, a caret
        f"in 3 -> lstm 2\tker{ESCAPES}as\t48\t\t\n"  # an unknown convention, named in the message
    )
    status, out, err = run_check(write(tmp_path, "t.tsv", table))
    assert (status, err) == (1, "")
    assert not any(c in out for c in "\x1b\x07\x9b\u202e")
    assert f"  source: source {ESCAPED}" in out
    assert "line 2: in 3 -> lstm \\x1b[31m2\n" + " " * len("line 2: in 3 -> lstm ") + "^^^^\n" in out
    assert f"unknown convention 'ker{ESCAPED}as'" in out
    _, markdown, _ = run_check(tmp_path / "t.tsv", "--markdown")
    assert not any(c in markdown for c in "\x1b\x07\x9b\u202e")
    assert f"| source {ESCAPED} |" in markdown


def test_control_characters_are_escaped_in_json(tmp_path: Path) -> None:
    path = write(tmp_path, "t.tsv", f"in 3 -> lstm 2\tkeras\t49\t\tsource {ESCAPES}\n")
    _, out, _ = run_check(path, "--json")
    assert not any(c in out for c in "\x1b\x07\x9b\u202e")
    assert json.loads(out)["cases"][0]["source"] == f"source {ESCAPES}"  # the same text, written as escapes


def test_control_characters_are_escaped_in_a_file_error(tmp_path: Path) -> None:
    path = write(tmp_path, "t.tsv", "in 3 -> lstm 2\tker\x1b[31mas\t48\t21,3M\t\x1b[2J\n")
    status, out, err = run_check(path)
    assert (status, out) == (2, "")
    assert "\x1b" not in err
    lines = err.splitlines()
    assert lines[3] == "1 | in 3 -> lstm 2 ker\\x1b[31mas 48 21,3M \\x1b[2J"
    assert lines[4] == "  | " + " " * len("in 3 -> lstm 2 ker\\x1b[31mas 48 ") + "^^^^^"  # under 21,3M


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_a_file_that_never_ends_is_refused() -> None:
    # /dev/zero has no end: derive stops at 100 MB rather than read for ever.
    done = subprocess.run(
        [sys.executable, "-m", "derive", "check", "/dev/zero"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == (
        "error: the file is larger than 100,000,000 bytes\n"
        "  --> /dev/zero\n"
        "  = a table of cases is text; split a larger one into several files\n"
    )


def test_ctrl_c_while_checking_exits_130_without_a_traceback(tmp_path: Path) -> None:
    # A real SIGINT, sent while the first row is counted (count is wrapped before derive.check
    # is imported, so the check uses the wrapper).
    path = write(tmp_path, "t.tsv", "in 3 -> lstm 2\tkeras\t48\t\t\n" * 3)
    script = textwrap.dedent(
        f"""\
        import os, signal, sys
        import derive.api
        from derive import cli

        count = derive.api.count

        def interrupted(*args, **kwargs):
            os.kill(os.getpid(), signal.SIGINT)
            return count(*args, **kwargs)

        derive.api.count = interrupted
        sys.exit(cli.main(["check", {str(path)!r}]))
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False)
    assert (done.returncode, done.stdout, done.stderr) == (130, "", "")


def test_rows_that_repeat_a_spec_count_it_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from derive.check import report

    calls: list[str] = []
    count = report.count

    def counting(spec: str, convention: str | None = None) -> object:
        calls.append(spec)
        return count(spec, convention)

    monkeypatch.setattr(report, "count", counting)
    rows = "in 3 -> lstm 2\tkeras\t48\n" * 3 + "in 3 -> lstm 2\tpytorch\t56\n" + "in 3 -> gru 2\tkeras\t42\n"
    outcomes = check.check_cases(check.parse_tsv(rows)).outcomes
    assert [o.count for o in outcomes] == [48, 48, 48, 56, 3 * (2 * (3 + 2) + 2 * 2)]  # keras GRU: reset_after
    assert calls == ["in 3 -> lstm 2", "in 3 -> lstm 2", "in 3 -> gru 2"]


# --- categories (SPEC §10): a row may check trainable, non-trainable, buffers or non-embedding -


@pytest.mark.parametrize(
    ("written", "category"),
    [
        ("", "total"),
        ("total", "total"),
        ("trainable", "trainable"),
        ("non_trainable", "non_trainable"),
        ("Non-Trainable", "non_trainable"),
        ("buffers", "buffers"),
        ("non-embedding", "non_embedding"),
    ],
)
def test_read_a_category_column(tmp_path: Path, written: str, category: str) -> None:
    tsv = write(tmp_path, "t.tsv", f"in 3 -> lstm 2\tkeras\t48\t\tsource\t{written}\n")
    toml = write(tmp_path, "t.toml", f'[[case]]\nspec = "in 3 -> lstm 2"\nexact = 48\ncategory = "{written}"\n')
    assert [c.category for c in check.read_cases(tsv)] == [category]
    assert [c.category for c in check.read_cases(toml)] == [category]


def test_the_category_is_total_by_default(tmp_path: Path) -> None:
    assert {c.category for c in check.read_cases(write(tmp_path, "t.tsv", TSV))} == {"total"}
    assert {c.category for c in check.read_cases(write(tmp_path, "t.toml", TOML))} == {"total"}


def test_a_header_may_name_the_category_column(tmp_path: Path) -> None:
    path = write(
        tmp_path, "t.tsv", "spec\tconvention\texact\tstated\tsource\tcategory\nin 3 -> lstm 2\t\t48\t\t\tbuffers\n"
    )
    assert [(c.line, c.category) for c in check.read_cases(path)] == [(2, "buffers")]


@pytest.mark.parametrize(
    ("name", "text", "line", "column", "words"),
    [
        (
            "t.tsv",
            "in 3 -> lstm 2\tkeras\t48\t\t\ttrainabel\n",
            1,
            27,
            "unknown category 'trainabel' — did you mean 'trainable'?",
        ),
        ("t.tsv", "in 3 -> lstm 2\tkeras\t48\t\t\tnon embedding\n", 1, 27, "did you mean 'non_embedding'?"),
        (
            "t.toml",
            '[[case]]\nspec = "in 3 -> lstm 2"\nexact = 48\ncategory = "bufers"\n',
            4,
            1,
            "did you mean 'buffers'?",
        ),
        ("t.toml", '[[case]]\nspec = "in 3 -> lstm 2"\nexact = 48\ncategory = 2\n', 4, 1, "category must be a string"),
    ],
)
def test_an_unknown_category(tmp_path: Path, name: str, text: str, line: int, column: int, words: str) -> None:
    path = write(tmp_path, name, text)
    with pytest.raises(CaseFileError) as caught:
        check.read_cases(path)
    assert words in caught.value.message
    assert (caught.value.line, caught.value.column) == (line, column)
    status, out, err = run_check(path)
    assert (status, out, err) == (2, "", str(caught.value) + "\n")
    if "did you mean" in words:
        assert (
            err.splitlines()[-1]
            == "  = a category is total, trainable, non_trainable, buffers, non_embedding, flops, macs"
            " (the default: total)"
        )


# The Keras guide's LSTM: a 1000 x 64 embedding, an LSTM of 128 and a dense of 10 (docs/check.md).
EMBEDDING = 1000 * 64
GUIDE = EMBEDDING + 4 * 128 * (64 + 128 + 1) + 128 * 10 + 10


def test_check_a_category(tmp_path: Path) -> None:
    spec = "in 1000 -> embed 64 -> lstm 128 -> dense 10"
    rows = [
        f"{spec}\tkeras\t{GUIDE}\t164k\t\t",
        f"{spec}\tkeras\t{GUIDE}\t\t\ttrainable",
        f"{spec}\tkeras\t0\t\t\tnon_trainable",
        f"{spec}\tkeras\t0\t\t\tbuffers",
        f"{spec}\tkeras\t{GUIDE - EMBEDDING}\t100k\t\tnon_embedding",
        f"{spec}\tkeras\t{GUIDE}\t\tthe total, as non-embedding\tnon_embedding",
    ]
    status, out, _ = run_check(write(tmp_path, "t.tsv", "\n".join(rows) + "\n"), "--json")
    assert status == 1
    cases = json.loads(out)["cases"]
    assert [(c["category"], c["derive"], c["holds"]) for c in cases] == [
        ("total", GUIDE, True),
        ("trainable", GUIDE, True),
        ("non_trainable", 0, True),
        ("buffers", 0, True),
        ("non_embedding", GUIDE - EMBEDDING, True),
        ("non_embedding", GUIDE - EMBEDDING, False),
    ]
    assert cases[-1]["reason"] == (
        f"derive counts {GUIDE - EMBEDDING:,} non-embedding parameters under keras, not {GUIDE:,} ({-EMBEDDING:+,})"
    )
    text = run_check(tmp_path / "t.tsv")[1].splitlines()
    assert text[0].split() == [
        "line",
        "result",
        "derive",
        "exact",
        "stated",
        "difference",
        "category",
        "convention",
        "spec",
    ]


# --- the project's own corpus --------------------------------------------------------------


def corpus_rows() -> list[str]:
    return [line for line in CORPUS.read_text(encoding="utf-8").splitlines() if line and not line.startswith("#")]


def test_the_corpus_holds() -> None:
    status, out, err = run_check(CORPUS)
    assert (status, err) == (0, "")
    assert out.splitlines()[-1] == f"{len(corpus_rows())} hold, 0 disagree"


def test_a_wrong_figure_in_the_corpus_is_named(tmp_path: Path) -> None:
    # Sak et al. 2014: 6,477,824 is 6.5M; a table printing 6.4M is wrong.
    lines = CORPUS.read_text(encoding="utf-8").split("\n")
    (at,) = [n for n, line in enumerate(lines) if line.split("\t")[3:4] == ["6.5M"]]
    spec = lines[at].split("\t")[0]
    lines[at] = lines[at].replace("\t6.5M\t", "\t6.4M\t")
    path = tmp_path / "published.tsv"
    path.write_text("\n".join(lines), encoding="utf-8")
    status, out, _ = run_check(path)
    assert status == 1
    assert (
        f"line {at + 1}: {spec}\n  derive counts 6,477,824 under sak2014, which rounds to 6.5M, not the stated 6.4M"
        in out
    )
    assert out.splitlines()[-1] == f"{len(corpus_rows()) - 1} hold, 1 disagrees"
    data = json.loads(run_check(path, "--json")[1])
    assert [c["line"] for c in data["cases"] if not c["holds"]] == [at + 1]


# --- assert_count --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "expected", "convention"),
    [
        ("in 3 -> lstm 2", LSTM_3_2, None),
        ("in 3 -> lstm 2", "48", "keras"),
        ("in 39 -> lstm 1024 x3 -> dense 34", KERAS_3X1024, None),
        ("in 39 -> lstm 1024 x3 -> dense 34", "about 21M", None),
        ("in 205 -> lstm 700 x5 -> dense 205", "21.3M", "graves2013"),
        ("in 205 -> lstm 700 x5 -> dense 205 using graves2013", GRAVES, None),
        ("in 205 -> lstm 700 x5 -> dense 205", "18.4M", "keras"),
    ],
)
def test_assert_count_passes(spec: str, expected: int | str, convention: str | None) -> None:
    assert assert_count(spec, expected, convention) is None


def test_assert_count_failure_shows_both_figures_and_the_breakdown() -> None:
    with pytest.raises(AssertionError) as caught:
        assert_count("in 205 -> lstm 700 x5 -> dense 205", GRAVES)
    message = str(caught.value)
    first, blank, *table = message.splitlines()
    assert first == (
        f"'in 205 -> lstm 700 x5 -> dense 205': derive counts {GRAVES_KERAS:,} under keras, "
        f"not {GRAVES:,} ({GRAVES_KERAS - GRAVES:+,})"
    )
    assert blank == ""
    assert table[0] == "in 205 -> lstm 700 x5 -> dense 205"
    assert table[1].startswith("convention: keras")
    layers = [line.split()[:3] for line in table[3:7]]
    assert layers == [["#", "layer", "in"], ["1", "lstm", "700"], ["x4", "more", "700"], ["2", "dense", "205"]]
    assert table[-1] == f"total: {GRAVES_KERAS:,} (18.4M)"


def test_assert_count_failure_with_a_stated_figure() -> None:
    with pytest.raises(AssertionError) as caught:
        assert_count("in 205 -> lstm 700 x5 -> dense 205", "21.2M", convention="graves2013")
    message = str(caught.value)
    assert message.startswith(
        f"'in 205 -> lstm 700 x5 -> dense 205': derive counts {GRAVES:,} under graves2013, "
        "which rounds to 21.3M, not the stated 21.2M\n"
    )
    assert "convention: graves2013" in message
    assert f"total: {GRAVES:,} (21.3M)" in message


def test_assert_count_mistakes_in_the_test_are_not_assertion_failures() -> None:
    with pytest.raises(StatedFigureError):
        assert_count("in 3 -> lstm 2", "about 48 or so")
    with pytest.raises(DeriveError):
        assert_count("in 3 -> lstmm 2", 48)
    with pytest.raises(DeriveError):
        assert_count("in m -> lstm n", 48)
    with pytest.raises(TypeError):
        assert_count("in 3 -> lstm 2", True)
    with pytest.raises(TypeError):
        assert_count("in 3 -> lstm 2", 48.0)  # type: ignore[arg-type]


def test_assert_count_in_a_users_pytest_run(tmp_path: Path) -> None:
    (tmp_path / "test_model.py").write_text(
        textwrap.dedent(
            """\
            from derive.testing import assert_count


            def test_keras_lstm():
                assert_count("in 39 -> lstm 1024 x3 -> dense 34", "about 21M")


            def test_graves_figure_under_keras():
                assert_count("in 205 -> lstm 700 x5 -> dense 205", "21M")
            """
        ),
        encoding="utf-8",
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_ADDOPTS"}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)  # this derive
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "test_model.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    out = done.stdout
    assert done.returncode == 1, out + done.stderr
    assert "1 failed, 1 passed" in out
    assert "test_graves_figure_under_keras" in out
    assert f"derive counts {GRAVES_KERAS:,} under keras, which rounds to 18M, not the stated 21M" in out
    assert "formula: i = input width, h = size" in out  # the breakdown
    assert f"total: {GRAVES_KERAS:,} (18.4M)" in out


def test_the_check_package_does_not_import_the_command_line() -> None:
    # Imports point one way: derive.cli uses derive.check, never the reverse.
    import ast

    for module in (ROOT / "derive" / "check").glob("*.py"):
        tree = ast.parse(module.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.ImportFrom):
                names = [node.module or "", *(alias.name for alias in node.names)]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            assert not {"cli", "repl", "derive.cli", "derive.repl"} & set(names), f"{module.name} imports {names}"


# --- large tables: streamed, counted in several processes, progress on a terminal ------------


def _mixed_table(rows: int) -> str:
    """Rows that hold, disagree, cannot be counted, and check categories, in turn."""
    kinds = [
        f"in 3 -> lstm 2\tkeras\t{LSTM_3_2}\t\tholds",
        "in 3 -> lstm 2\tkeras\t49\t\tdisagrees by one",
        "in 3 -> lstm\tkeras\t48\t\ta spec that cannot be counted",
        f"in 3 -> lstm 2\tkeras\t{LSTM_3_2}\t\ttrainable\ttrainable",
        "in 39 -> lstm 1024 x3 -> dense 34\tkeras\t\t21.2M\tthe worked example",
        "in 205 -> lstm 700 x5 -> dense 205\tgraves2013\t\t21M\tGraves 2013",
    ]
    return "spec\tconvention\texact\tstated\tsource\tcategory\n" + "".join(
        kinds[k % len(kinds)] + "\n" for k in range(rows)
    )


@pytest.mark.parametrize("form", [[], ["--json"], ["--markdown"]])
def test_jobs_print_the_same_report_in_the_same_order(tmp_path: Path, form: list[str]) -> None:
    # More rows than two chunks per worker, so that chunks come back while others are counted.
    path = write(tmp_path, "t.tsv", _mixed_table(300))
    alone = run_check(path, *form)
    for jobs in ("2", "3"):
        assert run_check(path, *form, "--jobs", jobs) == alone
    # and the same as the report made in memory, row by row
    report = check.check_file(path)
    shown = report.json() if form == ["--json"] else report.markdown() if form else report.text()
    assert alone == (1, shown + "\n", "")
    # Per six rows: 48, the trainable 48, 21.2M (KERAS_3X1024) and 21M (GRAVES) hold; 49 and
    # the spec without a size fail.
    assert (round(KERAS_3X1024 / 1e5) / 10, round(GRAVES / 1e6)) == (21.2, 21)
    assert (report.held, report.failed) == (200, 100)


def test_a_table_streams_through_a_spool_on_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from derive.check import stream

    path = write(tmp_path, "t.tsv", _mixed_table(60))
    in_memory = run_check(path)
    monkeypatch.setattr(stream, "_KEPT", 7)  # rows go to the temporary file, 7 at a time, 4 stay in memory
    assert run_check(path) == in_memory
    assert run_check(path, "--json") == (1, check.check_file(path).json() + "\n", "")


def test_the_reader_streams_a_table(tmp_path: Path) -> None:
    # Rows come one at a time: the two before a malformed row are read before it is found.
    path = write(tmp_path, "t.tsv", "in 3 -> lstm 2\tkeras\t48\nin 3 -> lstm 2\tkeras\t48\nin 3 -> lstm 2\tkeras\tx\n")
    rows = check.iter_cases(path)
    assert [next(rows).line, next(rows).line] == [1, 2]
    with pytest.raises(CaseFileError) as caught:
        next(rows)
    assert (caught.value.line, caught.value.column) == (3, len("in 3 -> lstm 2\tkeras\t") + 1)


def test_a_malformed_row_anywhere_stops_the_check_before_anything_is_printed(tmp_path: Path) -> None:
    path = write(tmp_path, "t.tsv", _mixed_table(500) + "in 3 -> lstm 2\tkeras\t4 8\n")
    for jobs in ("1", "2"):
        status, out, err = run_check(path, "--jobs", jobs)
        assert (status, out) == (2, "")
        assert f"line 502, column {len('in 3 -> lstm 2  keras  ')}" not in err  # the column counts a tab as one
        assert f"{path}, line 502, column {len('in 3 -> lstm 2 keras ') + 1}" in err


def test_a_table_from_a_pipe(tmp_path: Path) -> None:
    # A pipe cannot be read twice: it is read whole, then checked.
    done = subprocess.run(
        [sys.executable, "-m", "derive", "check", "/dev/stdin", "--json"],
        input=_mixed_table(12),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    data = json.loads(done.stdout)
    assert (done.returncode, data["held"], data["failed"], len(data["cases"])) == (1, 8, 4, 12)


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_is_shown_on_a_terminal_and_erased(tmp_path: Path) -> None:
    path = write(tmp_path, "t.tsv", _mixed_table(6))
    out, err = io.StringIO(), _Terminal()
    status = cli.main(["check", str(path)], stdout=out, stderr=err)
    assert status == 1
    shown = err.getvalue()
    last = "derive check: 6 of 6 rows (100%)"
    assert shown.startswith("\rderive check: ")
    assert shown.endswith("\r" + last + "\r" + " " * len(last) + "\r")  # the last count, then erased
    assert out.getvalue() == check.check_file(path).text() + "\n"


def test_no_progress_off_a_terminal(tmp_path: Path) -> None:
    assert run_check(write(tmp_path, "t.tsv", _mixed_table(6)))[2] == ""


@pytest.mark.parametrize("jobs", ["-1", "two", ""])
def test_jobs_must_be_a_number_of_processes(tmp_path: Path, jobs: str) -> None:
    status, out, err = run_check(write(tmp_path, "t.tsv", _mixed_table(1)), "--jobs", jobs)
    assert (status, out) == (2, "")
    assert "argument -j/--jobs: expected" in err


def test_jobs_0_is_one_per_usable_cpu() -> None:
    args = cli.build_check_parser().parse_args(["t.tsv", "--jobs", "0"])
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert args.jobs == usable


@pytest.mark.parametrize(
    ("rows", "cpus", "jobs"),
    [
        *[(0, 4, 1), (499, 4, 1), (500, 4, 1), (1_000, 4, 2), (1_999, 4, 3), (10_000, 4, 4)],
        *[(10_000, 1, 1), (10_000, 16, 8), (1_000_000, 64, 8)],
    ],
)
def test_by_default_a_process_for_every_500_rows(
    monkeypatch: pytest.MonkeyPatch, rows: int, cpus: int, jobs: int
) -> None:
    # One per 500 rows (rows // 500), at most one per usable CPU and 8, at least one.
    monkeypatch.setattr(parallel, "usable_cpus", lambda: cpus)
    assert parallel.auto_jobs(rows) == jobs
    assert cli.build_check_parser().parse_args(["t.tsv"]).jobs is None


def test_a_long_table_is_counted_in_several_processes_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, "t.tsv", _mixed_table(6))
    started: list[int] = []
    in_processes = parallel.in_processes

    def spy(items: object, work: object, jobs: int) -> object:
        started.append(jobs)
        return in_processes(items, work, jobs)  # type: ignore[arg-type]

    monkeypatch.setattr(parallel, "in_processes", spy)
    monkeypatch.setattr(parallel, "usable_cpus", lambda: 2)
    monkeypatch.setattr(parallel, "AUTO_ROWS", 3)  # six rows are then two processes' worth
    alone = run_check(path, "--jobs", "1")
    assert started == []
    assert run_check(path) == alone
    assert started == [2]


@pytest.mark.skipif(not WORKERS_LISTED, reason="finds the workers in /proc (Linux)")
def test_ctrl_c_with_jobs_exits_130_without_a_traceback(tmp_path: Path) -> None:
    # Rows slow enough to count that the check is still running when Ctrl-C comes.
    path = write(tmp_path, "t.tsv", "in 39 -> lstm 1024 x3 -> dense 34\tkeras\t\t21.2M\n" * 20_000)
    assert interrupt_when_workers_start(["check", str(path), "--jobs", "2"]) == (130, "", "")
