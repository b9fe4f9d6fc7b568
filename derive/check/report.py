"""Checking cases and reporting them: each row counted and held to its figures, then shown as
text, JSON or GitHub Markdown.

Every spec is counted with :func:`derive.count`; a row holds when the count (or the category
it names) equals its exact count and rounds to its stated figure
(:mod:`derive.check.figures`). The report keeps the file's order. Its text and Markdown show
the user's cells with control characters escaped (:func:`~derive.check.reader.printable`),
and its JSON escapes them too.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..api import Result, count
from ..errors import DeriveError, UnboundSymbolError
from .figures import disagreement
from .reader import Case, printable, read_cases, shown

__all__ = ["Outcome", "Report", "check_case", "check_cases", "check_file"]


@dataclass(frozen=True, slots=True)
class Outcome:
    """A case checked: ``status`` is ``"holds"``, ``"disagrees"`` or ``"error"`` (the spec
    cannot be counted). ``count`` is derive's exact count (of the case's category) and
    ``convention`` the one it was counted under; ``difference`` is derive − exact, or derive −
    the stated figure's value when the row has no exact count or only its stated figure fails;
    ``reason`` says why a row does not hold."""

    case: Case
    status: str
    count: int | None = None
    convention: str | None = None
    difference: int | None = None
    reason: str | None = None
    error: DeriveError | None = None

    @property
    def holds(self) -> bool:
        """Whether every figure of the row holds."""
        return self.status == "holds"

    @property
    def rounded(self) -> str | None:
        """derive's count at the stated figure's precision, written as the figure is."""
        if self.count is None or self.case.stated is None:
            return None
        return self.case.stated.rounded(self.count)

    def as_dict(self) -> dict[str, Any]:
        """The JSON form of the row."""
        case = self.case
        return {
            "line": case.line,
            "spec": case.spec,
            "convention": self.convention,
            "category": case.category,
            "status": self.status,
            "holds": self.holds,
            "derive": self.count,
            "exact": case.exact,
            "stated": None if case.stated is None else case.stated.text,
            "rounded": self.rounded,
            "difference": self.difference,
            "reason": self.reason,
            "source": case.source,
        }


def _counted(spec: str, convention: str | None) -> Result | DeriveError:
    """The count of ``spec``, or the error that says why it cannot be counted."""
    try:
        return count(spec, convention)
    except DeriveError as error:
        return error


def check_case(case: Case) -> Outcome:
    """Count ``case.spec`` under its convention and hold it to the row's figures."""
    return _outcome(case, _counted(case.spec, case.convention))


def _outcome(case: Case, counted: Result | DeriveError) -> Outcome:
    try:
        if isinstance(counted, DeriveError):
            raise counted
        if counted.symbols:
            names = ", ".join(s.name for s in counted.symbols)
            raise UnboundSymbolError(
                f"the count still has free symbols ({names})", hint="a table of counts needs a number for every size"
            )
        total = int(_category(counted, case.category))
    except DeriveError as error:
        return Outcome(case, "error", convention=case.convention, reason=error.message, error=error)
    convention = counted.convention.name
    # The difference from the figure that fails (the exact count first), or from the exact count.
    stated_fails = case.stated is not None and not case.stated.holds(total)
    if case.exact is not None and (total != case.exact or not stated_fails):
        difference = total - case.exact
    else:
        assert case.stated is not None
        difference = total - case.stated.value
    reason = disagreement(total, case.exact, case.stated, convention, case.category)
    return Outcome(case, "holds" if reason is None else "disagrees", total, convention, difference, reason)


def _category(result: Result, category: str) -> Any:
    """The count of ``category`` in ``result`` (SPEC §10): a property of the result, or its
    FLOPs or multiply-accumulates (SPEC §11)."""
    if category in ("flops", "macs"):
        return getattr(result, category)()
    return getattr(result, category)


@dataclass(frozen=True, slots=True)
class Report:
    """The outcomes of a table's cases, in the file's order, and the forms they are printed in."""

    file: str
    outcomes: tuple[Outcome, ...]

    @property
    def held(self) -> int:
        """How many rows hold."""
        return sum(o.holds for o in self.outcomes)

    @property
    def failed(self) -> int:
        """How many rows do not hold: they disagree, or their spec cannot be counted."""
        return len(self.outcomes) - self.held

    def summary(self) -> str:
        """``13 hold, 1 disagrees`` (and ``, 1 error`` when a spec cannot be counted)."""
        disagree = sum(o.status == "disagrees" for o in self.outcomes)
        errors = sum(o.status == "error" for o in self.outcomes)
        text = f"{self.held} {'holds' if self.held == 1 else 'hold'}, "
        text += f"{disagree} {'disagrees' if disagree == 1 else 'disagree'}"
        if errors:
            text += f", {errors} {'error' if errors == 1 else 'errors'}"
        return text

    def as_dict(self) -> dict[str, Any]:
        """``{"file", "cases": [...], "held", "failed"}``, for ``--json``."""
        return {
            "file": self.file,
            "cases": [o.as_dict() for o in self.outcomes],
            "held": self.held,
            "failed": self.failed,
        }

    def json(self) -> str:
        """:meth:`as_dict` as one line of JSON, every control character escaped.

        >>> Report("t.tsv", ()).json()
        '{"file": "t.tsv", "cases": [], "held": 0, "failed": 0}'
        """
        return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m[0]):04x}", json.dumps(self.as_dict(), ensure_ascii=False))

    def text(self) -> str:
        """A table of the rows, then why each failing row fails (with its source), then the summary.

        A column ``category`` is shown when a row checks something other than the total.
        """
        categories = any(o.case.category != "total" for o in self.outcomes)
        head = ["line", "result", "derive", "exact", "stated", "difference", "convention", "spec"]
        if categories:
            head.insert(6, "category")
        rows = [tuple(head)]
        for o in self.outcomes:
            case = o.case
            row = [
                str(case.line),
                o.status,
                _grouped(o.count),
                _grouped(case.exact),
                "—" if case.stated is None else printable(case.stated.text),
                _signed(o.difference),
                printable(o.convention or "—"),
                printable(_one_line(case.spec)),
            ]
            if categories:
                row.insert(6, case.category)
            rows.append(tuple(row))
        widths = [max(len(row[c]) for row in rows) for c in range(len(head))]
        right = {0, 2, 3, 4, 5}
        lines = [
            "  ".join(
                cell.rjust(w) if c in right else cell.ljust(w)
                for c, (cell, w) in enumerate(zip(row, widths, strict=True))
            ).rstrip()
            for row in rows
        ]
        for o in self.outcomes:
            if not o.holds:
                lines.append("")
                lines.extend(_failure(o))
        lines.append("")
        lines.append(self.summary())
        return "\n".join(lines)

    def markdown(self) -> str:
        """A GitHub Markdown table, ✅ or ❌ per row, for a CI job summary or a pull request.

        A column ``category`` is shown when a row checks something other than the total.
        """
        categories = any(o.case.category != "total" for o in self.outcomes)
        head = ["", "line", "spec", "convention", "derive", "exact", "stated", "difference", "source"]
        align = [":-:", "--:", ":--", ":--", "--:", "--:", "--:", "--:", ":--"]
        if categories:
            head.insert(4, "category")
            align.insert(4, ":--")
        lines = [
            f"**derive check** `{_cell(self.file)}`: {self.summary()}",
            "",
            "|" + "|".join(f" {h} " if h else " " for h in head) + "|",
            "|" + "|".join(align) + "|",
        ]
        for o in self.outcomes:
            case = o.case
            cells = [
                "✅" if o.holds else "❌",
                str(case.line),
                f"`{_cell(_one_line(case.spec))}`",
                _cell(o.convention or "—"),
                _grouped(o.count),
                _grouped(case.exact),
                "—" if case.stated is None else _cell(case.stated.text),
                _signed(o.difference),
                _cell(case.source),
            ]
            if categories:
                cells.insert(4, case.category)
            lines.append("| " + " | ".join(cells) + " |")
        failures = [o for o in self.outcomes if not o.holds]
        if failures:
            lines.append("")
            for o in failures:
                what = f"cannot count the spec: {o.reason}" if o.status == "error" else o.reason
                lines.append(f"- ❌ line {o.case.line}: {_cell(what or '')}")
        return "\n".join(lines)


def check_cases(cases: Iterable[Case], file: str = "") -> Report:
    """Check every case; the report keeps their order.

    Rows that repeat a spec and convention (one row per category, say) count it once: the
    most recent counts are kept, a bounded number of them, so memory grows with the rows only.
    """
    counted = functools.lru_cache(maxsize=_RECENT)(_counted)
    return Report(file, tuple(_outcome(case, counted(case.spec, case.convention)) for case in cases))


def check_file(path: str | Path) -> Report:
    """Read the table at ``path`` and check every row (a :class:`CaseFileError` if malformed)."""
    return check_cases(read_cases(path), str(path))


_RECENT = 256  # counts kept while checking a table, for rows that repeat a spec
# Characters that json.dumps(ensure_ascii=False) leaves as they are and a terminal may obey.
_JSON_UNSAFE = re.compile("[\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _grouped(value: int | None) -> str:
    return "—" if value is None else f"{value:,}"


def _signed(value: int | None) -> str:
    if value is None:
        return "—"
    return "0" if value == 0 else f"{value:+,}"


def _one_line(text: str) -> str:
    return text.replace("\r", " ").replace("\n", " ")


def _cell(text: str) -> str:
    return printable(_one_line(text)).replace("|", "\\|")


def _failure(o: Outcome) -> list[str]:
    """Why a row fails: its line and spec (a caret under the fault of a spec in error), the
    reason, the hint, the source."""
    head = f"line {o.case.line}: "
    spec = _one_line(o.case.spec)
    error = o.error
    span = None if error is None else error.span
    text, column, width = shown(spec, span.start, span.end) if span is not None else (printable(spec), 0, 0)
    lines = [head + text]
    if error is not None:
        if span is not None and span.start < len(spec):
            lines.append(" " * (len(head) + column) + "^" * min(width, len(text) - column))
        lines.append(f"  error: {printable(error.message)}")
        if error.hint:
            lines.append(f"  = {printable(error.hint)}")
    else:
        lines.append(f"  {printable(o.reason or '')}")
    if o.case.source:
        lines.append(f"  source: {printable(o.case.source)}")
    return lines
