"""What an import gives back: the spec as text, where it came from, and its count."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import DeriveError

if TYPE_CHECKING:
    from ..api import Result


class UnsupportedModelError(DeriveError, ValueError):
    """A model, module or config that derive cannot write as a spec: named, never guessed."""


@dataclass(frozen=True)
class Imported:
    """A spec made from a framework's model.

    ``text`` is the spec in derive's language (edit it, or give it to :func:`derive.count`);
    ``origin`` says what was read and which class the count is of (``Hugging Face
    LlamaForCausalLM``); ``convention`` is the one the framework counts by, used when
    :meth:`count` is given none; ``notes`` say what the spec holds as opaque counts.

    >>> from derive import from_hf
    >>> spec = from_hf({"model_type": "gpt2"})
    >>> spec.text
    'gpt2 (V=50257, ctx=1024, d=768, L=12, heads=12)'
    >>> int(spec)
    124439808
    """

    text: str
    origin: str
    convention: str = "pytorch"
    notes: tuple[str, ...] = ()

    def count(self, convention: str | None = None) -> Result:
        """The spec counted under the framework's convention, or under ``convention``: the
        same layers as another framework or a paper would count them (a spec that ends
        ``using pytorch`` is counted without that line)."""
        from ..api import count

        if convention is None:
            return count(self.text, self.convention)
        return count(self.text.removesuffix(f"\nusing {self.convention}"), convention)

    def __int__(self) -> int:
        return int(self.count())

    def __index__(self) -> int:
        return int(self)

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        text = self.text if len(self.text) <= 200 else self.text[:197] + "..."
        return f"<Imported from {self.origin}: {text!r}>"
