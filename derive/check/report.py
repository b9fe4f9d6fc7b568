"""Checking cases and reporting them: each row counted and held to its figures, then shown as
text, JSON or GitHub Markdown.

Every spec is counted with :func:`derive.count`; a row holds when the count equals its exact
count and rounds to its stated figure (:mod:`derive.check.figures`). The report keeps the
file's order.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..derivation import count
from ..errors import DeriveError, UnboundSymbolError
from .figures import disagreement
from .reader import Case, read_cases

__all__ = ["Outcome", "Report", "check_case", "check_cases", "check_file"]


@dataclass(frozen=True)
class Outcome:
    """A case checked: ``status`` is ``"holds"``, ``"disagrees"`` or ``"error"`` (the spec
    cannot be counted). ``count`` is derive's exact count and ``convention`` the one it was
    counted under; ``difference`` is derive − exact, or derive − the stated figure's value when
    the row has no exact count or only its stated figure fails; ``reason`` says why a row does
    not hold."""

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


def check_case(case: Case) -> Outcome:
    """Count ``case.spec`` under its convention and hold it to the row's figures."""
    try:
        result = count(case.spec, case.convention)
        if result.symbols:
            names = ", ".join(s.name for s in result.symbols)
            raise UnboundSymbolError(
                f"the count still has free symbols ({names})", hint="a table of counts needs a number for every size"
            )
        total = int(result)
    except DeriveError as error:
        return Outcome(case, "error", convention=case.convention, reason=error.message, error=error)
    convention = result.convention.name
    # The difference from the figure that fails (the exact count first), or from the exact count.
    stated_fails = case.stated is not None and not case.stated.holds(total)
    if case.exact is not None and (total != case.exact or not stated_fails):
        difference = total - case.exact
    else:
        assert case.stated is not None
        difference = total - case.stated.value
    reason = disagreement(total, case.exact, case.stated, convention)
    return Outcome(case, "holds" if reason is None else "disagrees", total, convention, difference, reason)


@dataclass(frozen=True)
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

    def text(self) -> str:
        """A table of the rows, then why each failing row fails (with its source), then the summary."""
        rows = [("line", "result", "derive", "exact", "stated", "difference", "convention", "spec")]
        for o in self.outcomes:
            case = o.case
            rows.append(
                (
                    str(case.line),
                    o.status,
                    _grouped(o.count),
                    _grouped(case.exact),
                    "—" if case.stated is None else case.stated.text,
                    _signed(o.difference),
                    o.convention or "—",
                    _one_line(case.spec),
                )
            )
        widths = [max(len(row[c]) for row in rows) for c in range(len(rows[0]))]
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
        """A GitHub Markdown table, ✅ or ❌ per row, for a CI job summary or a pull request."""
        lines = [
            f"**derive check** `{self.file}`: {self.summary()}",
            "",
            "| | line | spec | convention | derive | exact | stated | difference | source |",
            "|:-:|--:|:--|:--|--:|--:|--:|--:|:--|",
        ]
        for o in self.outcomes:
            case = o.case
            cells = [
                "✅" if o.holds else "❌",
                str(case.line),
                f"`{_cell(_one_line(case.spec))}`",
                o.convention or "—",
                _grouped(o.count),
                _grouped(case.exact),
                "—" if case.stated is None else _cell(case.stated.text),
                _signed(o.difference),
                _cell(case.source),
            ]
            lines.append("| " + " | ".join(cells) + " |")
        failures = [o for o in self.outcomes if not o.holds]
        if failures:
            lines.append("")
            for o in failures:
                what = f"cannot count the spec: {o.reason}" if o.status == "error" else o.reason
                lines.append(f"- ❌ line {o.case.line}: {_cell(what or '')}")
        return "\n".join(lines)


def check_cases(cases: Iterable[Case], file: str = "") -> Report:
    """Check every case; the report keeps their order."""
    return Report(file, tuple(check_case(case) for case in cases))


def check_file(path: str | Path) -> Report:
    """Read the table at ``path`` and check every row (a :class:`CaseFileError` if malformed)."""
    return check_cases(read_cases(path), str(path))


def _grouped(value: int | None) -> str:
    return "—" if value is None else f"{value:,}"


def _signed(value: int | None) -> str:
    if value is None:
        return "—"
    return "0" if value == 0 else f"{value:+,}"


def _one_line(text: str) -> str:
    return text.replace("\r", " ").replace("\n", " ")


def _cell(text: str) -> str:
    return _one_line(text).replace("|", "\\|")


def _failure(o: Outcome) -> list[str]:
    """Why a row fails: its line and spec (a caret under the fault of a spec in error), the
    reason, the hint, the source."""
    head = f"line {o.case.line}: "
    spec = _one_line(o.case.spec)
    lines = [head + spec]
    error = o.error
    if error is not None:
        span = error.span
        if span is not None and span.start < len(spec):
            width = max(1, min(span.end, len(spec)) - span.start)
            lines.append(" " * (len(head) + span.start) + "^" * width)
        lines.append(f"  error: {error.message}")
        if error.hint:
            lines.append(f"  = {error.hint}")
    else:
        lines.append(f"  {o.reason}")
    if o.case.source:
        lines.append(f"  source: {o.case.source}")
    return lines
