"""Check: a table of published parameter counts, each row derived and held to its figures.

This stage sits after :mod:`derive.derivation`: it reads a table of cases (a spec, a
convention, and the count a paper, model card or textbook printed beside it), counts every
spec with :func:`derive.count`, and reports, row by row, whether the printed figures hold.
It has three parts, one per job:

- :mod:`derive.check.reader`: tables (tab-separated or TOML) into :class:`Case` rows, and a
  :class:`CaseFileError` with the file, the line and a caret for a table that cannot be read;
- :mod:`derive.check.figures`: stated figures (``21.3M``, ``about 21M``) and the rule that
  holds an exact count to them, which :mod:`derive.testing` uses too;
- :mod:`derive.check.report`: each case counted into an :class:`Outcome`, and the
  :class:`Report` as text, JSON or GitHub Markdown;
- :mod:`derive.check.stream`: a table of any length checked row by row, in one process or
  several (``derive check --jobs N``), its report written as it is in memory.

``derive check FILE`` is its command line, in :mod:`derive.cli`.

>>> Figure.parse("21.3M").holds(21_252_205), holds(21_252_205, "21.2M")
(True, False)
"""

from .figures import FORMS, MAX_DIGITS, Figure, StatedFigureError, disagreement, holds
from .reader import (
    CATEGORIES,
    COLUMNS,
    MAX_BYTES,
    Case,
    CaseFileError,
    iter_cases,
    parse_toml,
    parse_tsv,
    printable,
    read_cases,
)
from .report import Outcome, Report, check_case, check_cases, check_file

__all__ = [
    "CATEGORIES",
    "COLUMNS",
    "FORMS",
    "MAX_BYTES",
    "MAX_DIGITS",
    "Case",
    "CaseFileError",
    "Figure",
    "Outcome",
    "Report",
    "StatedFigureError",
    "check_case",
    "check_cases",
    "check_file",
    "disagreement",
    "holds",
    "iter_cases",
    "parse_toml",
    "parse_tsv",
    "printable",
    "read_cases",
]
