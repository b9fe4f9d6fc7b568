"""Import: a spec from a model people already have (SPEC §12).

:func:`from_hf` reads a Hugging Face ``config.json``, :func:`from_torch` walks a
``torch.nn.Module``, :func:`from_keras` a Keras 3 model. Each returns an :class:`Imported`:
the spec as text a user can edit, and its count, which equals the framework's own. The
frameworks are imported only by the function that needs them, so ``import derive`` loads none.
"""

from __future__ import annotations

from .base import Imported, UnsupportedModelError
from .hf import from_hf
from .keras_model import from_keras
from .torch_module import from_torch

__all__ = ["Imported", "UnsupportedModelError", "from_hf", "from_keras", "from_torch"]
