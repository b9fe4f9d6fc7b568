"""Stated figures: a parameter count as a paper prints it, and the rule that holds a count to it.

A figure is read with the precision it was printed with: the number of decimals written, at
the scale of its suffix (k, M, B or G, T, or thousand, million, billion, trillion). It holds when
the exact count, rounded half up to that precision, equals it. 21,252,205 holds for ``21.3M``
and ``21M``, not for ``21.2M``; a figure without a suffix is exact, so ``164,106`` must equal
the count. The arithmetic is exact (:class:`~decimal.Decimal`, never floats):

>>> Figure.parse("21.3M").holds(21_252_205), Figure.parse("21.2M").holds(21_252_205)
(True, False)
>>> Figure.parse("about 21M").rounded(21_252_205)
'21M'
>>> holds(164_106, "164,106"), holds(164_106, "164k"), holds(164_106, "164,000")
(True, True, False)

A figure has at most :data:`MAX_DIGITS` digits, the limit on a number in a spec.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, localcontext

from ..errors import DeriveError
from ..shapes import MAX_DIGITS

__all__ = ["FORMS", "MAX_DIGITS", "Figure", "StatedFigureError", "disagreement", "holds", "quoted"]


class StatedFigureError(DeriveError, ValueError):
    """A stated figure that cannot be read as a parameter count (``21,3M``, ``21M+``)."""


#: Powers of ten of the suffixes: a letter in either case, or a word in any case.
_LETTERS = {"k": 3, "m": 6, "b": 9, "g": 9, "t": 12}  # g: giga, as FLOPs are printed (4.1G)
_WORDS = {"thousand": 3, "million": 6, "mn": 6, "billion": 9, "bn": 9, "trillion": 12}
#: Words and signs that say a figure is rounded (\u223c is the tilde operator of LaTeX's \sim).
#: They are allowed and change nothing: the precision is the one printed.
_APPROXIMATELY = r"about|around|approximately|approx\.?|roughly|circa|ca\.|~|\u223c|≈"
_FIGURE = re.compile(
    rf"(?:(?P<about>{_APPROXIMATELY})\s*)?"
    r"(?P<whole>[0-9]{1,3}(?:[,\u00a0\u2009\u202f][0-9]{3})+|[0-9]+)(?:\.(?P<decimals>[0-9]+))?"
    r"(?P<unit>\s*[A-Za-z]+)?",
    re.IGNORECASE,
)
_BOUND = re.compile(
    r"^(?:over|under|above|below|more than|less than|fewer than|at least|at most|up to|nearly|almost|[<>≤≥])|\+$",
    re.IGNORECASE,
)
FORMS = "21,178,402, 21178402, 21.3M, about 21M, ~19M, ≈ 6.5M, 0.83B, 24m, 164k, 3.7 million, 12 thousand"
_SHOWN = 60  # characters of a value quoted in a message


def quoted(text: str) -> str:
    """``'text'`` for a message, cut to a readable length (a cell may hold anything)."""
    return f"'{text}'" if len(text) <= _SHOWN else f"'{text[:_SHOWN]}...' ({len(text):,} characters)"


@dataclass(frozen=True, slots=True)
class Figure:
    """A parameter count as printed: its number, the decimals written, and its suffix's scale.

    ``21.3M`` is ``Figure("21.3M", Decimal("21.3"), decimals=1, scale=6, unit="M")``: the count
    to the nearest 100,000. A figure without a suffix is exact (``scale`` 0, no decimals).

    >>> f = Figure.parse("≈ 6.5 million")
    >>> f.number, f.decimals, f.scale, f.value
    (Decimal('6.5'), 1, 6, 6500000)
    >>> f.rounded(6_477_824), f.holds(6_477_824)
    ('6.5 million', True)
    >>> Figure.parse("0.83B").rounded(834_000_000)
    '0.83B'
    """

    text: str
    number: Decimal
    decimals: int
    scale: int
    unit: str = ""
    grouped: bool = False

    @classmethod
    def parse(cls, text: str) -> Figure:
        """Read a figure as papers print it; a :class:`StatedFigureError` if it is not one."""
        stripped = text.strip()
        if _BOUND.search(stripped):
            raise StatedFigureError(
                f"the stated figure {quoted(stripped)} is a bound, not a rounded count",
                hint="write the figure the source rounds to (21M) or the exact count (21,178,402)",
            )
        match = _FIGURE.fullmatch(stripped)
        unit = (match["unit"] or "").strip() if match else ""
        scale = _scale(unit)
        if not match or not stripped or scale is None:
            raise StatedFigureError(
                f"cannot read the stated figure {quoted(stripped)}", hint=f"figures look like {FORMS}"
            )
        whole, decimals = match["whole"], match["decimals"] or ""
        digits = re.sub(r"[^0-9]", "", whole)
        if len(digits) + len(decimals) > MAX_DIGITS:
            raise StatedFigureError(
                f"the stated figure has {len(digits) + len(decimals):,} digits; the limit is {MAX_DIGITS:,}"
            )
        if len(decimals) > scale:
            raise StatedFigureError(
                f"the stated figure {quoted(stripped)} is more precise than one parameter",
                hint=f"a count is a whole number: with {unit} write at most {scale} decimals"
                if scale
                else "a figure without a suffix is an exact count: write it without decimals",
            )
        return cls(
            text=stripped,
            number=Decimal(f"{digits}.{decimals}" if decimals else digits),
            decimals=len(decimals),
            scale=scale,
            unit=match["unit"] or "",
            grouped=whole != digits,
        )

    @property
    def exact(self) -> bool:
        """Whether the figure is a whole count (no suffix): it then holds only for itself."""
        return self.scale == 0

    @property
    def value(self) -> int:
        """The figure as a number of parameters: ``21.3M`` is 21,300,000."""
        with localcontext() as context:
            context.prec = len(str(self.number)) + self.scale + 2  # room for every digit: exact
            return int(self.number.scaleb(self.scale))

    def round_count(self, count: int) -> Decimal:
        """``count`` at this figure's scale, rounded half up to the decimals it printed.

        >>> Figure.parse("21.3M").round_count(21_250_000), Figure.parse("21.3M").round_count(21_249_999)
        (Decimal('21.3'), Decimal('21.2'))
        """
        with localcontext() as context:
            context.prec = abs(count).bit_length() * 30103 // 100000 + self.scale + 3  # every digit: exact
            scaled = Decimal(count).scaleb(-self.scale)
            return scaled.quantize(Decimal(1).scaleb(-self.decimals), rounding=ROUND_HALF_UP)

    def holds(self, count: int) -> bool:
        """Whether ``count``, rounded to the precision printed, is this figure."""
        return self.round_count(count) == self.number

    def rounded(self, count: int) -> str:
        """``count`` written as this figure is written, at its precision: ``21.3M`` for 21,252,205."""
        number = self.round_count(count)
        return (f"{number:,.{self.decimals}f}" if self.grouped else f"{number:.{self.decimals}f}") + self.unit

    def __str__(self) -> str:
        return self.text


def _scale(unit: str) -> int | None:
    if not unit:
        return 0
    if len(unit) == 1:
        return _LETTERS.get(unit.lower())
    return _WORDS.get(unit.lower())


def holds(count: int, stated: str | Figure) -> bool:
    """Whether the exact ``count`` rounds to the figure printed as ``stated``.

    >>> holds(21_252_205, "21M"), holds(21_252_205, "21.2M"), holds(6_477_824, "~6.5M")
    (True, False, True)
    """
    figure = stated if isinstance(stated, Figure) else Figure.parse(stated)
    return figure.holds(count)


def disagreement(
    count: int, exact: int | None, stated: Figure | None, convention: str, category: str = "total"
) -> str | None:
    """Why ``count`` does not match the figures, or ``None`` when they hold.

    ``category`` names what was counted when it is not the total (``"trainable"``...).

    >>> print(disagreement(21_252_205, None, Figure.parse("21.2M"), "graves2013"))
    derive counts 21,252,205 under graves2013, which rounds to 21.3M, not the stated 21.2M
    >>> print(disagreement(18_371_705, 21_252_205, None, "keras"))
    derive counts 18,371,705 under keras, not 21,252,205 (-2,880,500)
    >>> print(disagreement(0, 1_024, None, "pytorch", "buffers"))
    derive counts 0 in buffers under pytorch, not 1,024 (-1,024)
    """
    reasons = []
    if exact is not None and count != exact:
        reasons.append(f"not {exact:,} ({count - exact:+,})")
    if stated is not None and not stated.holds(count):
        if stated.exact:
            reasons.append(f"not the stated {stated.text} ({count - stated.value:+,})")
        else:
            it = "and it" if reasons else "which"
            reasons.append(f"{it} rounds to {stated.rounded(count)}, not the stated {stated.text}")
    if not reasons:
        return None
    what = _COUNTED.get(category, "")
    return f"derive counts {count:,}{what} under {convention}, " + ", ".join(reasons)


#: How a count of a category is said in a reason ("derive counts 1,024 in buffers under ...").
_COUNTED = {
    "trainable": " trainable parameters",
    "non_trainable": " non-trainable parameters",
    "buffers": " in buffers",
    "non_embedding": " non-embedding parameters",
}
