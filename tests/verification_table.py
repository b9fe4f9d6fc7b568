"""The table of published figures in docs/verification.md, generated from tests/published.tsv.

Run ``python tests/verification_table.py`` to print it; ``tests/test_oracles.py`` checks that the
table between the markers in docs/verification.md is exactly this, so the two cannot drift.
derive's exact count is computed here by ``derive.count``; the published figure and its source
come from the TSV.
"""

from __future__ import annotations

import csv
from pathlib import Path

import derive

HERE = Path(__file__).resolve().parent
PUBLISHED = HERE / "published.tsv"
START, END = "<!-- table:start -->", "<!-- table:end -->"
#: The framework each convention's rows are built in by tests/test_oracles.py.
ORACLE_NAMES = {"keras": "Keras 3 `count_params()`", "pytorch": "PyTorch `parameters()`"}


def published(path: Path = PUBLISHED) -> list[dict[str, str]]:
    """The rows of the TSV (comment lines start with ``#``) as dicts by column name."""
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line and not line.startswith("#")]
    fields = ["spec", "convention", "exact", "stated", "source"]
    return [dict(zip(fields, row, strict=True)) for row in csv.reader(lines, delimiter="\t", quoting=csv.QUOTE_NONE)]


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def table(path: Path = PUBLISHED) -> str:
    """The Markdown table: spec, convention, derive's exact count, the published figure, the oracle, source."""
    lines = [
        "| spec | convention | derive | published | checked against | source |",
        "|---|---|--:|---|---|---|",
    ]
    for row in published(path):
        exact = int(derive.count(row["spec"], row["convention"]))
        oracle = ORACLE_NAMES.get(row["convention"], "—")
        cells = [f"`{row['spec']}`", row["convention"], f"{exact:,}", row["stated"], oracle, row["source"]]
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return "\n".join(lines)


def between_markers(markdown: str) -> str:
    """The text between the table markers of a Markdown file, without surrounding blank lines."""
    start, end = markdown.index(START) + len(START), markdown.index(END)
    return markdown[start:end].strip("\n")


if __name__ == "__main__":
    print(table())
