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

from .api import Result, count
from .compare import Comparison, compare
from .conventions import CONVENTIONS, Convention
from .derivation import LayerResult, NodeResult, PartResult
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
from .kinds import KINDS, Kind
from .model import BlockDef, Branch, Call, Group, Layer, NetCall, NetDef, Network, Part, Program
from .parse import parse
from .shapes import Shape

__version__ = "0.2.0"

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
    "compare",
    "count",
    "parse",
]
