"""Convolutional programs as plain data, drawn at random from a seed, for the framework oracles.

A :class:`Net` is an input shape (``in 24x20x3``, or ``in 40x4`` for 1-D) and a chain of
:class:`Op` (a layer with its written options), :class:`Residual` and :class:`Branches`
(``add { ... }``, ``concat { ... }``); :meth:`Net.text` writes it in derive's syntax, which is
what derive is given, and ``tests/oracles.py`` builds it as a torch module and a Keras model.

:func:`draw` keeps each drawn layer possible (a kernel that fits, groups that divide) with its
own spatial arithmetic, PyTorch's documented floor((n + 2p − d(k − 1) − 1)/s) + 1; the shapes
the tests compare come from the frameworks, never from here.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

#: Values an Op's options take: one size, one per spatial dimension, or a word.
Value = int | tuple[int, ...] | str


@dataclass(frozen=True)
class Op:
    """``KIND [SIZE] (OPTIONS)``: options as written, in order."""

    kind: str
    size: int | None = None
    options: tuple[tuple[str, Value], ...] = ()

    def get(self, name: str, default: Value | None = None) -> Value | None:
        return dict(self.options).get(name, default)

    def text(self) -> str:
        words = [self.kind] if self.size is None else [self.kind, str(self.size)]
        if self.options:
            words.append("(" + ", ".join(f"{k}={_value(v)}" for k, v in self.options) + ")")
        return " ".join(words)


@dataclass(frozen=True)
class Residual:
    """``residual [ CHAIN ]``: the body keeps the shape."""

    chain: tuple[Element, ...]

    def text(self) -> str:
        return f"residual [ {_chain(self.chain)} ]"


@dataclass(frozen=True)
class Branches:
    """``add { ... }`` or ``concat { ... }``; an empty chain is ``id``."""

    op: str
    branches: tuple[tuple[Element, ...], ...]

    def text(self) -> str:
        inside = " | ".join(_chain(b) if b else "id" for b in self.branches)
        return f"{self.op} {{ {inside} }}"


Element = Op | Residual | Branches


@dataclass(frozen=True)
class Net:
    """``in DIMS -> CHAIN``: spatial dimensions then channels."""

    dims: tuple[int, ...]
    chain: tuple[Element, ...]

    @property
    def rank(self) -> int:
        """Spatial dimensions: 1 or 2."""
        return len(self.dims) - 1

    def text(self) -> str:
        return f"in {'x'.join(map(str, self.dims))} -> {_chain(self.chain)}"


def _value(v: Value) -> str:
    return "x".join(map(str, v)) if isinstance(v, tuple) else str(v)


def _chain(chain: tuple[Element, ...]) -> str:
    return " -> ".join(e.text() for e in chain)


# --- drawing ------------------------------------------------------------------------------------


def out_size(n: int, k: int, stride: int = 1, pad: int = 0, dilation: int = 1) -> int:
    """torch.nn.Conv2d's documented output size."""
    return (n + 2 * pad - dilation * (k - 1) - 1) // stride + 1


@dataclass
class _Shape:
    spatial: list[int]
    channels: int
    head: bool = False  # flattened: only dense layers from here
    extra: dict[str, int] = field(default_factory=dict)


def _divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


class _Draw:
    def __init__(self, seed: int) -> None:
        self.r = random.Random(seed)

    def kernel(self, rank: int, odd: bool = False) -> tuple[int, ...]:
        choices = [1, 3, 5] if odd else [1, 2, 3, 4, 5]
        if rank == 2 and self.r.random() < 0.3:
            return (self.r.choice(choices), self.r.choice(choices))
        return (self.r.choice(choices),) * rank

    @staticmethod
    def _k(k: tuple[int, ...]) -> Value:
        return k[0] if len(set(k)) == 1 else k

    def conv(self, s: _Shape) -> Op:
        """A conv that fits ``s``: random k, stride, pad, dilation, groups, bias."""
        rank = len(s.spatial)
        for _ in range(20):
            k = self.kernel(rank)
            stride = self.r.choice([1, 1, 2, 3])
            dilation = self.r.choice([1, 1, 2]) if stride == 1 else 1  # Keras: not both > 1
            pad: int | str = self.r.choice(["valid", 0, *range(0, max(k) // 2 + 1)])
            if stride == 1 and self.r.random() < 0.3:
                pad = "same"
            p = 0 if isinstance(pad, str) else pad
            sizes = [out_size(n, kk, stride, p, dilation) for n, kk in zip(s.spatial, k, strict=True)]
            if pad != "same" and min(sizes) < 1:
                continue
            g = self.r.choice(_divisors(s.channels)[:4])
            c = g * self.r.randint(1, 4)
            options: list[tuple[str, Value]] = [("k", self._k(k))]
            if stride != 1:
                options.append(("stride", stride))
            if pad != "valid" or self.r.random() < 0.2:
                options.append(("pad", pad))
            if dilation != 1:
                options.append(("dilation", dilation))
            if g != 1:
                options.append(("groups", g))
            if self.r.random() < 0.3:
                options.append(("bias", "none"))
            if pad == "same":
                s.spatial = list(s.spatial)
            else:
                s.spatial = sizes
            s.channels = c
            return Op("conv", c, tuple(options))
        return self.pointwise(s, self.r.randint(2, 8))

    def pointwise(self, s: _Shape, c: int) -> Op:
        s.channels = c
        return Op("conv", c, (("k", 1),))

    def dwconv(self, s: _Shape) -> Op:
        """A depthwise conv that keeps or halves the size: odd k, pad (k - 1)/2."""
        k = self.r.choice([1, 3, 5])
        stride = self.r.choice([1, 2])
        options: list[tuple[str, Value]] = [("k", k), ("pad", k // 2)]
        if stride != 1:
            options.append(("stride", stride))
        m = self.r.choice([1, 1, 2])
        if m != 1:
            options.append(("mult", m))
        if self.r.random() < 0.3:
            options.append(("bias", "none"))
        s.spatial = [out_size(n, k, stride, k // 2) for n in s.spatial]
        s.channels *= m
        return Op("dwconv", None, tuple(options))

    def pool(self, s: _Shape) -> Op | None:
        k = self.r.choice([2, 3])
        stride = self.r.choice([None, 1, 2])
        pad = self.r.choice([0, 0, 1]) if k == 3 else 0  # PyTorch: pad <= k/2
        st = k if stride is None else stride
        if any(out_size(n, k, st, pad) < 1 for n in s.spatial):
            return None
        s.spatial = [out_size(n, k, st, pad) for n in s.spatial]
        options: list[tuple[str, Value]] = [("k", k)]
        if stride is not None:
            options.append(("stride", stride))
        if pad:
            options.append(("pad", pad))
        return Op(self.r.choice(["maxpool", "avgpool"]), None, tuple(options))

    def bn(self) -> Op:
        return Op("bn", None, (("affine", "false"),)) if self.r.random() < 0.2 else Op("bn")

    def residual(self, s: _Shape) -> Residual:
        """conv -> bn -> relu -> conv -> bn, each keeping the shape (odd k, pad (k - 1)/2)."""
        body: list[Element] = []
        for n in range(2):
            k = self.r.choice([1, 3, 5])
            g = self.r.choice(_divisors(s.channels)[:3])
            options: list[tuple[str, Value]] = [("k", k), ("pad", k // 2)]
            if g != 1:
                options.append(("groups", g))
            body += [Op("conv", s.channels, tuple(options)), self.bn()]
            if n == 0:
                body.append(Op("relu"))
        return Residual(tuple(body))

    def concat(self, s: _Shape) -> Branches:
        """Inception-like: branches that keep the spatial size, channels joined."""
        branches: list[tuple[Element, ...]] = []
        total = 0
        for _ in range(self.r.randint(2, 3)):
            what = self.r.choice(["conv1", "conv3", "pool", "id"])
            if what == "id" and () not in branches:
                branches.append(())
                total += s.channels
            elif what == "pool":
                branches.append((Op("maxpool", None, (("k", 3), ("stride", 1), ("pad", 1))),))
                total += s.channels
            else:
                c = self.r.randint(1, 6)
                k = 1 if what == "conv1" else 3
                branches.append((Op("conv", c, (("k", k), ("pad", k // 2))), Op("relu")))
                total += c
        s.channels = total
        return Branches("concat", tuple(branches))

    def downsample(self, s: _Shape) -> Branches:
        """ResNet's projection shortcut: both branches halve the size the same way."""
        c = self.r.randint(2, 8)
        main = (Op("conv", c, (("k", 3), ("stride", 2), ("pad", 1), ("bias", "none"))), Op("bn"), Op("relu"))
        short = (Op("conv", c, (("k", 1), ("stride", 2), ("bias", "none"))), Op("bn"))
        s.spatial = [out_size(n, 3, 2, 1) for n in s.spatial]
        s.channels = c
        return Branches("add", (main, short))

    def net(self) -> Net:
        rank = self.r.choice([1, 2])
        dims = [self.r.randint(12, 28) for _ in range(rank)]
        s = _Shape(list(dims), self.r.randint(1, 6))
        start = (*dims, s.channels)
        chain: list[Element] = []
        for _ in range(self.r.randint(3, 7)):
            what = self.r.choice(["conv", "conv", "conv", "bn", "relu", "pool", "dwconv", "residual", "concat", "down"])
            if min(s.spatial) < 3 and what in ("conv", "pool", "dwconv", "down"):
                what = "bn"
            if what == "conv":
                chain.append(self.conv(s))
            elif what == "bn":
                chain.append(self.bn())
            elif what == "relu":
                chain.append(Op("relu"))
            elif what == "pool":
                pool = self.pool(s)
                if pool is not None:
                    chain.append(pool)
            elif what == "dwconv":
                chain.append(self.dwconv(s))
            elif what == "residual":
                chain.append(self.residual(s))
            elif what == "concat":
                chain.append(self.concat(s))
            else:
                chain.append(self.downsample(s))
        head = self.r.choice(["flatten", "globalpool", "none"])
        if head != "none":
            chain.append(Op(head))
            chain.append(Op("dense", self.r.randint(2, 10)))
            if self.r.random() < 0.5:
                chain += [Op("relu"), Op("dense", self.r.randint(2, 10))]
        return Net(start, tuple(chain))


def draw(seed: int) -> Net:
    """The random convolutional network of ``seed`` (the same on every machine)."""
    return _Draw(seed).net()
