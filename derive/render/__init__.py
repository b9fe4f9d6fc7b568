"""Render: a result tree as a text table, JSON, LaTeX, Markdown, an explanation, a comparison.

One module per format, each walking the rows of :mod:`derive.render.rows` (or the tree) in
its own syntax. Mathematics is printed by SymPy's own printers (``sstr`` for text and JSON,
``latex`` for LaTeX); these modules only lay the pieces out.
"""

from __future__ import annotations

from .budget import leading_dict, leading_latex, leading_text, solution_dict, solution_latex, solution_text
from .compare import compare_dict, compare_text
from .explain import explain
from .json import as_dict, explain_dict
from .latex import document, latex, standalone, tex_text
from .markdown import markdown
from .rows import number
from .text import text

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
