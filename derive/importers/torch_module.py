"""PyTorch modules: a spec from a ``torch.nn.Module``'s tree, exact by construction.

The walk maps each leaf module torch defines to a kind, from the attributes its constructor
stores (torch/nn/modules/*.py): ``Linear`` (in_features, out_features, bias) is ``dense``,
``Embedding``/``EmbeddingBag`` ``embed``, ``LayerNorm`` ``layernorm``, ``RMSNorm``
``rmsnorm``, ``RNN``/``GRU``/``LSTM`` the recurrent kinds (num_layers as ``xN``,
bidirectional as the bi- kinds, bias, proj_size as ``proj``), ``MultiheadAttention`` ``attn``,
and the modules without parameters (dropout, activations, ``Flatten``) their kinds.

Structure: an ``nn.Sequential`` is a chain (its children run in order), and consecutive
children that are the same layer, or the same chain, become one element ``xN``. Any other
container's forward can do anything, so each of its children becomes parts of its own,
labelled with its path (``encoder_0``); the parts are summed, which is exact whatever the
forward does. A chain also breaks into a new part where the next layer's input width is not
the width the chain has reached (the Sequential is then not a plain chain of widths).

Shared parameters are counted once (by the identity of the ``Parameter``): a weight shared
with an earlier ``Embedding`` or ``Linear`` is written ``tied=LABEL``. A module derive cannot
map that holds parameters is an error naming its type and its parameters; with
``strict=False`` it becomes an opaque ``params N`` row with torch's own count. Modules without
parameters that derive has no kind for (``LeakyReLU``, ``Upsample``) are left out and named in
the notes. The spec ends ``using pytorch`` (two bias vectors per recurrent gate, batch-norm
statistics as buffers), and before it is returned its count is checked against
``sum(p.numel() for p in module.parameters())``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from .base import Imported, UnsupportedModelError

# Modules without parameters, by class name, and the kind each is.
_SIZELESS = {
    "ReLU": "relu",
    "ReLU6": "relu6",
    "GELU": "gelu",
    "SiLU": "silu",
    "Tanh": "tanh",
    "Sigmoid": "sigmoid",
    "Softmax": "softmax",
    "Identity": "identity",
    "Dropout": "dropout",
    "Dropout1d": "dropout",
    "Dropout2d": "dropout",
    "Dropout3d": "dropout",
    "AlphaDropout": "dropout",
    "FeatureAlphaDropout": "dropout",
}

_KEYWORDS = {"in", "as", "using", "where", "block", "net", "residual", "add", "concat", "mul", "x"}


@dataclass
class _Unit:
    """One layer of the spec: its text, the width it takes (None: any), the width it gives
    (None: the width it takes), and where it comes from."""

    text: str
    path: str
    needs: int | None = None
    out: int | None = None
    vocab: bool = False  # an embedding: it starts a part, reading token ids of ``needs`` kinds
    alone: bool = False  # its own part (a norm over several dimensions)
    opaque: bool = False  # params N: in the chain running, else a part of its own
    weight: int | None = None  # id() of the weight a later layer may tie to
    label: str | None = None  # set when a later layer ties to it

    def written(self) -> str:
        return self.text if self.label is None else f"{self.text} as {self.label}"


@dataclass
class _Run:
    """Children of a Sequential that chain: ``items`` once, ``repeat`` times."""

    items: list[_Item]
    repeat: int
    path: str


@dataclass
class _Break:
    """The end of a chain: what follows starts a new part."""


_Item = _Unit | _Run | _Break


@dataclass
class _Part:
    label: str
    width: int
    elements: list[str] = field(default_factory=list)


class _Walker:
    def __init__(self, torch: Any, strict: bool) -> None:
        self.torch = torch
        self.nn = torch.nn
        self.strict = strict
        self.seen: dict[int, tuple[str, _Unit | None]] = {}  # id(Parameter) -> (path, unit)
        self.notes: list[str] = []

    # -- modules to items --

    def module(self, module: Any, path: str) -> list[_Item]:
        children = list(module.named_children())
        own = list(module.named_parameters(recurse=False))
        if not children or isinstance(module, self.nn.MultiheadAttention):  # its out_proj is its own
            return self.leaf(module, path)
        items: list[_Item] = []
        if own:
            items += [_Break(), *self.unknown(module, path, own, holder=True), _Break()]
        if isinstance(module, self.nn.Sequential):
            return items + self.sequential(children, path)
        for name, child in children:
            items += [_Break(), *self.module(child, _join(path, name)), _Break()]
        return items

    def sequential(self, children: list[tuple[str, Any]], path: str) -> list[_Item]:
        converted = [(name, self.module(child, _join(path, name))) for name, child in children]
        items: list[_Item] = []
        at = 0
        while at < len(converted):
            name, first = converted[at]
            end = at + 1
            while end < len(converted) and _repeats(first, converted[end][1]):
                end += 1
            if end - at > 1:
                items.append(_Run(first, end - at, _join(path, name)))
            else:
                items.extend(first)
            at = end
        return items

    def leaf(self, module: Any, path: str) -> list[_Item]:
        nn = self.nn
        params = list(module.named_parameters(remove_duplicate=False))
        name = type(module).__name__
        shared = [(n, p) for n, p in params if id(p) in self.seen]
        if not _holds(module, params, nn):  # a subclass with parameters of its own
            return self.unknown(module, path, params)
        d = getattr(module, "embedding_dim", 0)
        if isinstance(module, nn.Linear):
            return self.linear(module, path, params, shared)
        if isinstance(module, nn.Embedding | nn.EmbeddingBag) and not shared:
            return self.own(
                module,
                _Unit(f"embed {d}", path, needs=module.num_embeddings, out=d, vocab=True),
                params,
                weight=module.weight,
            )
        if isinstance(module, nn.Embedding | nn.EmbeddingBag) and [n for n, _ in shared] == ["weight"]:
            source = self.tie_to(module.weight)
            if source is not None:
                return [_Unit(f"embed {d} (tied={source})", path, needs=module.num_embeddings, out=d, vocab=True)]
        if shared:
            return self.unknown(module, path, params, why="it shares " + ", ".join(n for n, _ in shared))
        if isinstance(module, nn.LayerNorm | nn.RMSNorm):
            return self.norm(module, path, params)
        if isinstance(module, nn.RNNBase):
            return self.recurrent(module, path, params)
        if isinstance(module, nn.MultiheadAttention):
            return self.attention(module, path, params)
        if not params and name in _SIZELESS:
            return [_Unit(_SIZELESS[name], path)]
        if not params and isinstance(module, nn.Flatten):
            return [_Unit("flatten", path)]
        if not params:
            self.notes.append(
                f"{name}{' at ' + path if path else ''} has no parameters and no kind in derive: left out"
            )
            return []
        return self.unknown(module, path, params)

    def own(self, module: Any, unit: _Unit, params: list[tuple[str, Any]], weight: Any = None) -> list[_Item]:
        """``unit`` holds ``params``: remember them (and its weight, for a later tie)."""
        for _, p in params:
            self.seen[id(p)] = (unit.path, unit)
        if weight is not None:
            unit.weight = id(weight)
        if params and all(not p.requires_grad for _, p in params):
            unit.text = _with_option(unit.text, "frozen")
        return [unit]

    def tie_to(self, weight: Any) -> str | None:
        """The label of the earlier layer whose weight ``weight`` is, labelling it if need be."""
        _, unit = self.seen[id(weight)]
        if unit is None or unit.weight != id(weight):
            return None
        if unit.label is None:
            unit.label = _label(unit.path or "tied")
        return unit.label

    def linear(
        self, module: Any, path: str, params: list[tuple[str, Any]], shared: list[tuple[str, Any]]
    ) -> list[_Item]:
        bias = "" if module.bias is not None else "bias=none"
        text = f"dense {module.out_features}"
        unit = _Unit(text, path, needs=module.in_features, out=module.out_features)
        if not shared:
            unit.text = _with_option(text, bias)
            return self.own(module, unit, params, weight=module.weight)
        if [n for n, _ in shared] == ["weight"]:
            source = self.tie_to(module.weight)
            if source is not None:
                unit.text = _with_option(_with_option(text, bias), f"tied={source}")
                return self.own(module, unit, [(n, p) for n, p in params if n != "weight"])
        return self.unknown(module, path, params, why="it shares " + ", ".join(n for n, _ in shared))

    def norm(self, module: Any, path: str, params: list[tuple[str, Any]]) -> list[_Item]:
        width = 1
        for n in module.normalized_shape:
            width *= int(n)
        kind = "layernorm" if isinstance(module, self.nn.LayerNorm) else "rmsnorm"
        if module.weight is None:
            where = f" at {path}" if path else ""
            self.notes.append(f"{type(module).__name__}{where} has no affine transform, so no parameters: left out")
            return []
        text = kind if kind == "rmsnorm" or module.bias is not None else "layernorm (bias=none)"
        # A norm over several dimensions (LayerNorm((C, H, W))) has a gain per element: derive's
        # norms act on the last dimension, so it is written on their product, in a part of its own.
        alone = len(module.normalized_shape) > 1
        return self.own(module, _Unit(text, path, needs=width, alone=alone), params)

    def recurrent(self, module: Any, path: str, params: list[tuple[str, Any]]) -> list[_Item]:
        mode = {"RNN_TANH": "rnn", "RNN_RELU": "rnn", "GRU": "gru", "LSTM": "lstm"}.get(module.mode)
        if mode is None:
            return self.unknown(module, path, params)
        kind = ("bi" if module.bidirectional else "") + mode
        options = []
        if not module.bias:
            options.append("bias=none")
        proj = getattr(module, "proj_size", 0)
        if proj:
            options.append(f"proj={proj}")
        text = f"{kind} {module.hidden_size}" + (f" ({', '.join(options)})" if options else "")
        if module.num_layers > 1:
            text += f" x{module.num_layers}"
        out = (proj or module.hidden_size) * (2 if module.bidirectional else 1)
        return self.own(module, _Unit(text, path, needs=module.input_size, out=out), params)

    def attention(self, module: Any, path: str, params: list[tuple[str, Any]]) -> list[_Item]:
        d, heads = module.embed_dim, module.num_heads
        problems = []
        if module.kdim != module.vdim:
            problems.append(f"keys of width {module.kdim} and values of width {module.vdim}")
        if module.bias_k is not None:
            problems.append("add_bias_kv (bias_k, bias_v)")
        if (module.in_proj_bias is None) != (module.out_proj.bias is None):
            problems.append("a bias on some projections only")
        if problems:
            return self.unknown(module, path, params, why="attn has no " + " and no ".join(problems))
        options = [f"heads={heads}"]
        if module.kdim != d:
            options.append(f"kv_in={module.kdim}")
        if module.in_proj_bias is None:
            options.append("bias=none")
        text = f"attn {d} ({', '.join(options)})"
        return self.own(module, _Unit(text, path, needs=d, out=d), params)

    def unknown(
        self, module: Any, path: str, params: list[tuple[str, Any]], why: str = "", holder: bool = False
    ) -> list[_Item]:
        name = type(module).__name__
        fresh = [(n, p) for n, p in params if id(p) not in self.seen]
        size = sum(p.numel() for _, p in fresh)
        where = f" at {path}" if path else ""
        holds = ", ".join(n for n, _ in params)
        if self.strict:
            what = "holds parameters of its own" if holder else "has no kind in derive"
            if why:
                what = f"cannot be written in derive: {why}"
            raise UnsupportedModelError(
                f"torch module {name}{where} {what} (parameters: {holds})",
                hint=f"derive.from_torch(module, strict=False) writes it as an opaque row, params {size}",
            )
        self.notes.append(f"{name}{where} ({holds}) is written as params {size}")
        if not fresh:
            return []
        unit = _Unit(f"params {size}", path or "module", opaque=True)
        return self.own(module, unit, fresh)


def _holds(module: Any, params: list[tuple[str, Any]], nn: Any) -> bool:
    """Whether ``module``'s parameters are the ones its torch class defines (a subclass may add
    its own, which the mapping of the class would not count)."""
    names = {n for n, _ in params}
    if isinstance(module, nn.Linear | nn.LayerNorm | nn.RMSNorm):
        return names <= {"weight", "bias"}
    if isinstance(module, nn.Embedding | nn.EmbeddingBag):
        return names <= {"weight"}
    if isinstance(module, nn.RNNBase):
        return names == set(module._flat_weights_names)
    if isinstance(module, nn.MultiheadAttention):
        allowed = {"in_proj_weight", "q_proj_weight", "k_proj_weight", "v_proj_weight", "in_proj_bias"}
        return names <= allowed | {"bias_k", "bias_v", "out_proj.weight", "out_proj.bias"}
    return True


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _label(path: str) -> str:
    word = re.sub(r"\W", "_", path)
    if not word or word[0].isdigit() or word.lower() in _KEYWORDS:
        word = "m_" + word
    return word


def _with_option(text: str, option: str) -> str:
    if not option:
        return text
    repeat = ""
    match = re.search(r" x\d+$", text)
    if match:
        text, repeat = text[: match.start()], match[0]
    if text.endswith(")"):
        return f"{text[:-1]}, {option}){repeat}"
    return f"{text} ({option}){repeat}"


def _shape(items: list[_Item]) -> Iterator[str]:
    """What makes two children the same: their text and widths (none of them shared)."""
    for item in items:
        if isinstance(item, _Unit):
            yield f"{item.text}|{item.needs}|{item.out}|{item.vocab}|{item.alone}"
        elif isinstance(item, _Run):
            yield f"[{'/'.join(_shape(item.items))}]x{item.repeat}"
        else:
            yield "|"


def _ins_and_out(items: list[_Item]) -> tuple[int | None, int | None, bool]:
    """The width a chain of items takes and gives, and whether it is one plain chain."""
    needs: int | None = None
    width: int | None = None
    for item in items:
        if isinstance(item, _Break):
            return None, None, False
        if isinstance(item, _Run):
            inner_in, inner_out, plain = _ins_and_out(item.items)
            if not plain:
                return None, None, False
            step_in, step_out = inner_in, inner_out
        else:
            if item.vocab or item.alone or "tied=" in item.text:
                return None, None, False
            step_in, step_out = item.needs, item.out if item.out is not None else item.needs
        if step_in is not None:
            if width is not None and width != step_in:
                return None, None, False
            needs = needs if needs is not None or width is not None else step_in
            width = step_out if step_out is not None else step_in
        elif step_out is not None:
            width = step_out
    return needs, width, True


def _repeats(first: list[_Item], other: list[_Item]) -> bool:
    """Whether ``other`` is a copy of ``first`` that can follow it in one chain ``xN``."""
    if not first or list(_shape(first)) != list(_shape(other)):
        return False
    needs, out, plain = _ins_and_out(first)
    return plain and needs is not None and needs == out


class _Parts:
    """Items laid out as parts: a chain runs while widths follow; anything else starts a part."""

    def __init__(self) -> None:
        self.parts: list[_Part] = []
        self.current: _Part | None = None
        self.width: int | None = None
        self.pending: list[str] = []  # size-less layers waiting for a width to start a part
        self.units: list[tuple[_Part, int, _Unit]] = []

    def start(self, unit: _Unit, width: int) -> _Part:
        part = _Part(unit.path, width, self.pending)
        self.pending = []
        self.parts.append(part)
        return part

    def add(self, items: list[_Item]) -> None:
        for item in items:
            if isinstance(item, _Break):
                self.close()
            elif isinstance(item, _Run):
                self.run(item)
            else:
                self.unit(item)

    def close(self) -> None:
        self.current, self.width, self.pending = None, None, []

    def unit(self, unit: _Unit) -> None:
        if unit.opaque and self.current is not None:
            self.place(self.current, unit)  # its output width is unknown: the next layer says
            return
        if unit.vocab or unit.alone or unit.opaque:
            self.close()
            part = self.start(unit, unit.needs or 1)
            self.place(part, unit)
            self.current, self.width = (None, None) if unit.alone or unit.opaque else (part, unit.out or part.width)
            return
        if unit.needs is None:
            if self.current is None:
                self.pending.append(unit.text)
            else:
                self.place(self.current, unit)
            return
        if self.current is None or self.width != unit.needs:
            self.current = self.start(unit, unit.needs)
        self.place(self.current, unit)
        self.width = unit.out if unit.out is not None else unit.needs

    def place(self, part: _Part, unit: _Unit) -> None:
        self.units.append((part, len(part.elements), unit))
        part.elements.append(unit.written())

    def run(self, run: _Run) -> None:
        needs, out, _ = _ins_and_out(run.items)
        inner = _Parts()
        inner.add(run.items)
        if len(inner.parts) != 1 or needs is None:
            for _ in range(run.repeat):
                self.add(run.items)
            return
        chain = inner.parts[0].elements
        body = chain[0] if len(chain) == 1 and not re.search(r" x\d+$", chain[0]) else f"[ {' -> '.join(chain)} ]"
        unit = _Unit(f"{body} x{run.repeat}", run.path, needs=needs, out=out)
        if self.current is None or self.width != needs:
            self.current = self.start(unit, needs)
        self.current.elements.append(unit.text)
        self.width = out

    def text(self) -> str:
        # Labels are written once every unit knows whether a later layer ties to it.
        for part, at, unit in self.units:
            part.elements[at] = unit.written()
        parts = [p for p in self.parts if p.elements]
        labels: dict[str, int] = {}
        lines = []
        for part in parts:
            head = f"in {part.width} -> {' -> '.join(part.elements)}"
            if len(parts) == 1:
                lines.append(head)
                continue
            label = _label(part.label or "part")
            labels[label] = labels.get(label, 0) + 1
            if labels[label] > 1:
                label = f"{label}_{labels[label]}"
            lines.append(f"{label}: {head}")
        return " ;\n".join(lines) + "\nusing pytorch"


def from_torch(module: Any, strict: bool = True) -> Imported:
    """The spec of a ``torch.nn.Module``, whose count is ``sum(p.numel() for p in
    module.parameters())``.

    ``strict=False`` writes a module derive cannot map as ``params N`` instead of refusing it.
    """
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is what the module came from
        raise UnsupportedModelError("from_torch needs PyTorch: pip install torch") from None
    if not isinstance(module, torch.nn.Module):
        raise UnsupportedModelError(
            f"from_torch takes a torch.nn.Module, not {type(module).__name__}",
            hint="a Keras model: derive.from_keras(model); a Hugging Face config: derive.from_hf(path)",
        )
    walker = _Walker(torch, strict)
    parts = _Parts()
    parts.add(walker.module(module, ""))
    expected = sum(p.numel() for p in module.parameters())
    if not parts.parts:
        if expected:
            raise UnsupportedModelError(f"derive found no layer it can write in {type(module).__name__}")
        return Imported(
            "in 1 -> identity using pytorch", f"torch {type(module).__name__}", "pytorch", tuple(walker.notes)
        )
    imported = Imported(parts.text(), f"torch {type(module).__name__}", "pytorch", tuple(walker.notes))
    got = imported.count().total
    if got != expected:  # a bug in the walk: never hand back a spec with another count
        raise UnsupportedModelError(
            f"derive's spec of {type(module).__name__} counts {got}, but torch counts {expected}",
            hint="this is a bug in derive.from_torch; please report it with the module",
        )
    return imported


__all__ = ["from_torch"]
