"""The opaque kind: ``params N``, a count derive is told rather than derives.

An import (``derive.from_torch(module, strict=False)``) writes a module derive has no kind for
as ``params N``, N being what the framework reports for it (``sum(p.numel())``), so that the
spec's total stays the framework's while saying plainly that this row has no formula.
"""

from __future__ import annotations

from .base import Ctx, Kind, Term, same


def _params(ctx: Ctx) -> tuple[Term, ...]:
    return (Term("parameters", ctx.h, "a count given as written: derive has no formula for this layer"),)


KINDS = (
    Kind(
        name="params",
        summary="an opaque count: h parameters, as given (what an import writes for a module derive cannot map)",
        terms=_params,
        output=same,
        aliases=("opaque",),
        source="the framework's own count of the module (sum(p.numel()))",
    ),
)
