"""derive: exact parameter counts of neural networks, as formulas and as numbers.

Write an architecture in a small language and get its parameter count, layer by layer, under
a named convention (Keras, PyTorch, a paper's):

>>> import derive
>>> int(derive.count("in 39 -> lstm 1024 x3 -> dense 34"))
21178402
>>> derive.count("in m -> lstm n").formula
4*n*(m + n + 1)

The pipeline has one module per stage: :mod:`derive.parse` (text to model),
:mod:`derive.model` (the program as a tree), :mod:`derive.kinds` and
:mod:`derive.conventions` (formulas and defaults, as data), :mod:`derive.derivation`
(symbolic counts as a result tree), :mod:`derive.render` (text, JSON, LaTeX, Markdown) and
:mod:`derive.cli`; :mod:`derive.api` is the public API re-exported here.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from .errors import (
    DeriveError,
    InvalidOptionError,
    InvalidSizeError,
    ShapeError,
    SpecSyntaxError,
    UnboundSymbolError,
    UnknownNameError,
    UnsolvableError,
)
from .lazy import LazyPackage

if TYPE_CHECKING:
    from .api import Result, count
    from .compare import Comparison, compare
    from .conventions import CONVENTIONS, Convention
    from .derivation import LayerResult, NodeResult, PartResult
    from .importers import Imported, UnsupportedModelError, from_hf, from_keras, from_torch
    from .kinds import KINDS, Kind
    from .model import BlockDef, Branch, Call, Group, Layer, NetCall, NetDef, Network, Part, Program
    from .parse import parse
    from .shapes import Shape

__version__ = "0.2.0"

# The API is imported on first use: SymPy takes most of a second to load, and the ``derive``
# command starts (and handles Ctrl-C, --help, --version) before it is needed.
_LAZY = {
    "Result": "api",
    "count": "api",
    "Comparison": "compare",
    "compare": "compare",
    "CONVENTIONS": "conventions",
    "Convention": "conventions",
    "LayerResult": "derivation",
    "NodeResult": "derivation",
    "PartResult": "derivation",
    "Imported": "importers",
    "UnsupportedModelError": "importers",
    "from_hf": "importers",
    "from_keras": "importers",
    "from_torch": "importers",
    "KINDS": "kinds",
    "Kind": "kinds",
    "BlockDef": "model",
    "Branch": "model",
    "Call": "model",
    "Group": "model",
    "Layer": "model",
    "NetCall": "model",
    "NetDef": "model",
    "Network": "model",
    "Part": "model",
    "Program": "model",
    "parse": "parse",
    "Shape": "shapes",
}

__all__ = [
    "CONVENTIONS",
    "KINDS",
    "BlockDef",
    "Branch",
    "Call",
    "Comparison",
    "Convention",
    "DeriveError",
    "Group",
    "Imported",
    "InvalidOptionError",
    "InvalidSizeError",
    "Kind",
    "Layer",
    "LayerResult",
    "NetCall",
    "NetDef",
    "Network",
    "NodeResult",
    "Part",
    "PartResult",
    "Program",
    "Result",
    "Shape",
    "ShapeError",
    "SpecSyntaxError",
    "UnboundSymbolError",
    "UnknownNameError",
    "UnsolvableError",
    "UnsupportedModelError",
    "compare",
    "count",
    "from_hf",
    "from_keras",
    "from_torch",
    "parse",
]


class _Package(LazyPackage):
    """The ``derive`` module: loads a name of the API when it is first asked for."""

    NAMES = _LAZY


sys.modules[__name__].__class__ = _Package
