"""derive: exact parameter counts of neural networks, as formulas and as numbers.

Write an architecture in a small DSL and get its parameter count, layer by layer, under a
named convention (Keras, PyTorch, a paper's):

>>> import derive
>>> int(derive.count("in 39 -> lstm 1024 x3 -> dense 34"))
21178402
>>> derive.count("in m -> lstm n").formula
4*n*(m + n + 1)

The pipeline has one module per stage: :mod:`derive.parse` (text to model),
:mod:`derive.model` (the typed network), :mod:`derive.kinds` and :mod:`derive.conventions`
(formulas and defaults, as data), :mod:`derive.derivation` (symbolic counts),
:mod:`derive.render` (text, JSON, LaTeX) and :mod:`derive.cli`.
"""

from .conventions import CONVENTIONS, Convention
from .derivation import Comparison, LayerResult, Result, compare, count
from .errors import (
    DeriveError,
    InvalidOptionError,
    InvalidSizeError,
    SpecSyntaxError,
    UnboundSymbolError,
    UnknownNameError,
    UnsolvableError,
)
from .kinds import KINDS, Kind
from .model import Layer, Network, Options
from .parse import parse

__version__ = "0.1.0"

__all__ = [
    "CONVENTIONS",
    "KINDS",
    "Comparison",
    "Convention",
    "DeriveError",
    "InvalidOptionError",
    "InvalidSizeError",
    "Kind",
    "Layer",
    "LayerResult",
    "Network",
    "Options",
    "Result",
    "SpecSyntaxError",
    "UnboundSymbolError",
    "UnknownNameError",
    "UnsolvableError",
    "compare",
    "count",
    "parse",
]
