"""Render: a result tree as a text table, JSON, LaTeX, Markdown, an explanation, a comparison.

One module per format, each walking the rows of :mod:`derive.render.rows` (or the tree) in
its own syntax. Mathematics is printed by SymPy's own printers (``sstr`` for text and JSON,
``latex`` for LaTeX); these modules only lay the pieces out.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from ..lazy import LazyPackage

if TYPE_CHECKING:
    from .budget import leading_dict, leading_latex, leading_text, solution_dict, solution_latex, solution_text
    from .compare import compare_dict, compare_text
    from .explain import explain
    from .json import as_dict, explain_dict
    from .latex import document, latex, standalone, tex_text
    from .markdown import markdown
    from .rows import number
    from .text import text

# Each format is imported when it is first asked for: a count printed as a table needs only
# the table's module, and a one-shot command pays for every module it imports.
_MODULES = {
    "leading_dict": "budget",
    "leading_latex": "budget",
    "leading_text": "budget",
    "solution_dict": "budget",
    "solution_latex": "budget",
    "solution_text": "budget",
    "compare_dict": "compare",
    "compare_text": "compare",
    "explain": "explain",
    "as_dict": "json",
    "explain_dict": "json",
    "document": "latex",
    "latex": "latex",
    "standalone": "latex",
    "tex_text": "latex",
    "markdown": "markdown",
    "number": "rows",
    "text": "text",
}


class _Package(LazyPackage):
    """The ``derive.render`` module: loads a format's function when it is first asked for."""

    NAMES = _MODULES


sys.modules[__name__].__class__ = _Package

__all__ = [
    "as_dict",
    "compare_dict",
    "compare_text",
    "document",
    "explain",
    "explain_dict",
    "latex",
    "leading_dict",
    "leading_latex",
    "leading_text",
    "markdown",
    "number",
    "solution_dict",
    "solution_latex",
    "solution_text",
    "standalone",
    "tex_text",
    "text",
]
