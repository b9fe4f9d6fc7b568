"""Testing: an assertion on a parameter count, for a project's own test suite.

:func:`assert_count` counts a spec with :func:`derive.count` and holds it to a number or to a
figure as a paper prints it, with the rule of :mod:`derive.check` (``"about 21M"`` holds when
the count rounds to 21M). On failure it raises a plain :class:`AssertionError`, so it works in
pytest, unittest or a bare script, and pytest is not imported.

>>> from derive.testing import assert_count
>>> assert_count("in 39 -> lstm 1024 x3 -> dense 34", 21_178_402)
>>> assert_count("in 205 -> lstm 700 x5 -> dense 205", "about 21M", convention="graves2013")
>>> assert_count("in 3 -> lstm 2", 50)
Traceback (most recent call last):
  ...
AssertionError: 'in 3 -> lstm 2': derive counts 48 under keras, not 50 (-2)
<BLANKLINE>
in 3 -> lstm 2
convention: keras (Keras 3 / tf.keras defaults)
<BLANKLINE>
#  layer   in -> out  formula            params
1  lstm 2  3 -> 2     4*h*(i + h) + 4*h      48
<BLANKLINE>
formula: i = input width, h = size
total: 48
"""

from __future__ import annotations

from .api import count
from .check import Figure, disagreement
from .model import Program


def assert_count(spec: str | Program, expected: int | str, convention: str | None = None) -> None:
    """Assert that ``spec`` has ``expected`` parameters under ``convention``.

    ``expected`` is an exact count (an ``int``) or a stated figure as papers print it
    (``"21,178,402"``, ``"21.3M"``, ``"about 21M"``, ``"164k"``), which holds when the exact
    count rounds to it at the precision printed. ``convention`` is as for :func:`derive.count`:
    by default the spec's ``using``, else ``keras``.

    The :class:`AssertionError` names the spec, the convention, derive's exact count and the
    expected figure, then shows the count layer by layer (:meth:`derive.Result.text`). A spec
    that cannot be counted raises its :class:`~derive.errors.DeriveError`, and a figure that
    cannot be read a :class:`~derive.check.StatedFigureError`: they are mistakes in the test.

    >>> graves = "in 205 -> lstm 700 x5 -> dense 205"
    >>> assert_count(graves, "21.2M", "graves2013")  # doctest: +ELLIPSIS +NORMALIZE_WHITESPACE
    Traceback (most recent call last):
      ...
    AssertionError: 'in 205 -> lstm 700 x5 -> dense 205': derive counts 21,252,205 under graves2013,
    which rounds to 21.3M, not the stated 21.2M
    ...
    total: 21,252,205 (21.3M)
    """
    __tracebackhide__ = True  # pytest shows the caller's line, not this one
    if isinstance(expected, bool) or not isinstance(expected, int | str):
        raise TypeError(f"expected must be an int or a stated figure (a str), not {type(expected).__name__}")
    exact, stated = (expected, None) if isinstance(expected, int) else (None, Figure.parse(expected))
    result = count(spec, convention)
    reason = disagreement(int(result), exact, stated, result.convention.name)
    if reason is not None:
        raise AssertionError(f"{result.spec!r}: {reason}\n\n{result.text()}")
