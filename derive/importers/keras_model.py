"""Keras 3 models: a spec from a built Sequential or functional model, exact by construction.

Each layer Keras defines maps to a kind, with its widths read from its built weights
(keras/src/layers/*): ``Dense`` (kernel (i, units), bias) is ``dense``, ``Embedding``
(embeddings (input_dim, output_dim)) ``embed``, ``SimpleRNN``/``GRU``/``LSTM`` (cell kernel
(i, g·h), recurrent_kernel, bias; GRU's ``reset_after``) the recurrent kinds, ``Bidirectional``
of one of them the bi- kinds, ``LayerNormalization`` (gamma, beta) ``layernorm``,
``RMSNormalization`` ``rmsnorm``, ``MultiHeadAttention`` (query, key, value kernels (i, H, k),
output (H, v, d)) ``attn``, ``Conv*D``, ``DepthwiseConv*D`` and ``SeparableConv*D`` ``conv`` and
``dwconv``, ``BatchNormalization`` ``bn`` (moving statistics non-trainable), the pools, and
the layers without weights (``Dropout``, ``Activation``, ``ReLU``, ``Softmax``, ``Flatten``,
``Identity``) their kinds; a ``Dense`` with an activation is followed by the activation's kind.

A Sequential is a chain, as is a functional model where each layer takes the output of the
one before; elsewhere (branches, merges) a layer starts a part of its own, labelled with its
name, and the parts are summed. A model used as a layer is walked in place. A layer that is
not trainable is ``frozen`` (its weights are non-trainable, as ``summary()`` shows). A layer
derive cannot map is an error naming its class and its weights; ``strict=False`` writes it as
``params N``. The spec ends ``using keras``, and its count (trainable and non-trainable) is
checked against the model's own before it is returned.
"""

from __future__ import annotations

import math
from typing import Any

from ..errors import DeriveError
from .base import Imported, UnsupportedModelError
from .chain import (
    Break,
    Item,
    Parts,
    Steps,
    Unit,
    added,
    branches_of,
    collapse,
    ordered,
    reshaping,
    residual,
    with_option,
)

#: Activations derive has a kind for, by Keras's function name.
_ACTIVATIONS = {
    "relu": "relu",
    "relu6": "relu6",
    "gelu": "gelu",
    "silu": "silu",
    "swish": "silu",
    "tanh": "tanh",
    "sigmoid": "sigmoid",
    "softmax": "softmax",
}

#: Layers without weights, by class name, and the kind each is.
_SIZELESS = {
    "Dropout": "dropout",
    "SpatialDropout1D": "dropout",
    "SpatialDropout2D": "dropout",
    "SpatialDropout3D": "dropout",
    "GaussianDropout": "dropout",
    "AlphaDropout": "dropout",
    "ReLU": "relu",
    "Softmax": "softmax",
    "Identity": "identity",
}

_RECURRENT = {"SimpleRNN": "rnn", "GRU": "gru", "LSTM": "lstm"}


def _shape(weight: Any) -> tuple[int, ...]:
    return tuple(int(n) for n in weight.shape)


class _Walker:
    def __init__(self, keras: Any, strict: bool, graphs: bool = True) -> None:
        self.graphs = graphs  # read functional graphs as chains (off: a part where they branch)
        self.keras = keras
        self.strict = strict
        self.seen: set[int] = set()
        self.layers: set[int] = set()
        self.notes: list[str] = []

    def model(self, model: Any) -> list[Item]:
        layers = [layer for layer in model.layers if type(layer).__name__ != "InputLayer"]
        if isinstance(model, self.keras.Sequential):
            return collapse([(layer.name, self.layer(layer)) for layer in layers])
        order = _graph_order(model, layers) if self.graphs else None
        if order is not None:
            return self.steps({layer.name: layer for layer in layers}, order)
        items: list[Item] = []
        previous: str | None = None
        for layer in layers:
            if previous is None or _inputs(layer) != {previous}:
                items.append(Break())  # where the graph branches or merges, the order is not a chain
            items += self.layer(layer)
            previous = layer.name
        return items

    def steps(self, layers: dict[str, Any], order: Steps) -> list[Item]:
        """The layers of a functional model in the order of its graph, with its shortcuts."""
        converted: list[tuple[str, list[Item]]] = []
        for step in order:
            branches = branches_of(step) if isinstance(step, list) else None
            if branches is not None:
                main, side = (self.steps(layers, b) for b in branches)
                converted.append(("add", added(main, side, "add")))
            elif isinstance(step, list):
                converted.append(("residual", residual(self.steps(layers, step), "residual")))
            else:
                converted.append((step, self.layer(layers[step])))
        return collapse(converted)

    def layer(self, layer: Any) -> list[Item]:
        name = type(layer).__name__
        if id(layer) in self.layers:  # one layer in two models: its weights count once
            self.notes.append(f"{name} '{layer.name}' is used again: counted once, where first found")
            return []
        self.layers.add(id(layer))
        if isinstance(layer, self.keras.Model):
            inner = self.model(layer)
            return inner if isinstance(layer, self.keras.Sequential) else [Break(), *inner, Break()]
        weights = list(layer.weights)
        fresh = [w for w in weights if id(w) not in self.seen]
        if len(fresh) != len(weights):
            return self.unknown(layer, fresh, "it shares weights with an earlier layer")
        if getattr(layer, "lora_enabled", False):
            return self.unknown(layer, fresh, "a Keras LoRA layer freezes only its own kernel")
        mapped = self.mapped(layer, name)
        if mapped is None:
            if not weights and reshaping(name):
                self.notes.append(
                    f"{name} '{layer.name}' has no weights and no kind in derive: left out, ending its chain"
                )
                return [Break()]
            if not weights:
                self.notes.append(f"{name} '{layer.name}' has no weights and no kind in derive: left out")
                return []
            return self.unknown(layer, fresh)
        for weight in weights:
            self.seen.add(id(weight))
        if weights and not layer.trainable:
            mapped[0].text = with_option(mapped[0].text, "frozen")
        elif any(not w.trainable for w in weights) and not _statistics_only(layer, weights):
            return self.unknown(layer, fresh, "some of its weights are not trainable")
        return list(mapped)

    def mapped(self, layer: Any, name: str) -> list[Unit] | None:
        L = self.keras.layers
        w = {weight.path.rsplit("/", 1)[-1]: weight for weight in layer.weights}
        path = layer.name
        if isinstance(layer, L.Dense) and set(w) <= {"kernel", "bias"} and len(_shape(w["kernel"])) == 2:
            i, units = _shape(w["kernel"])
            text = f"dense {units}" + ("" if "bias" in w else " (bias=none)")
            found = [Unit(text, path, needs=i, out=units)]
            activation = getattr(layer.activation, "__name__", "linear")
            if activation in _ACTIVATIONS:
                found.append(Unit(_ACTIVATIONS[activation], path))
            elif activation != "linear":
                self.notes.append(f"Dense {path}: its activation {activation} has no kind in derive: left out")
            return found
        if isinstance(layer, L.Embedding) and set(w) == {"embeddings"}:
            vocab, d = _shape(w["embeddings"])
            return [Unit(f"embed {d}", path, needs=vocab, out=d, vocab=True)]
        if name in _RECURRENT or isinstance(layer, L.Bidirectional):
            return self.recurrent(layer)
        if isinstance(layer, L.LayerNormalization) and "gamma" in w and set(w) <= {"gamma", "beta"}:
            width = math.prod(_shape(w["gamma"]))
            text = "layernorm" if "beta" in w else "layernorm (bias=none)"
            return [Unit(text, path, needs=width, alone=len(_shape(w["gamma"])) > 1)]
        if name == "RMSNormalization" and set(w) == {"scale"}:
            return [Unit("rmsnorm", path, needs=math.prod(_shape(w["scale"])), alone=len(_shape(w["scale"])) > 1)]
        if isinstance(layer, L.MultiHeadAttention):
            return self.attention(layer, path)
        if name in (
            "Conv1D",
            "Conv2D",
            "Conv3D",
            "DepthwiseConv1D",
            "DepthwiseConv2D",
            "SeparableConv1D",
            "SeparableConv2D",
        ):
            return _conv(layer, name, w)
        if isinstance(layer, L.BatchNormalization):
            return _batchnorm(layer, w)
        if not w and name in _POOLS:
            return [_pool(layer, name)]
        if not w and name in (
            "GlobalAveragePooling1D",
            "GlobalAveragePooling2D",
            "GlobalAveragePooling3D",
            "GlobalMaxPooling1D",
            "GlobalMaxPooling2D",
            "GlobalMaxPooling3D",
        ):
            if getattr(layer, "keepdims", False):
                return None
            return [Unit("globalpool", path, spatial="global")]
        if not w and name in _SIZELESS:
            return [Unit(_SIZELESS[name], path)]
        if not w and name in ("ZeroPadding1D", "ZeroPadding2D", "ZeroPadding3D"):
            sides = {int(p) for pair in _pairs(layer.padding) for p in pair}
            return [Unit("", path, spatial="zeropad", out=sides.pop())] if len(sides) == 1 else None
        if not w and name == "Flatten":
            return [Unit("flatten", path, spatial="flatten")]
        if not w and name == "Activation":
            activation = getattr(layer.activation, "__name__", "")
            return [Unit(_ACTIVATIONS[activation], path)] if activation in _ACTIVATIONS else None
        return None

    def recurrent(self, layer: Any) -> list[Unit] | None:
        bidirectional = isinstance(layer, self.keras.layers.Bidirectional)
        one = layer.forward_layer if bidirectional else layer
        kind = _RECURRENT.get(type(one).__name__)
        if kind is None:
            return None
        if bidirectional:
            other = layer.backward_layer
            if type(other) is not type(one) or other.units != one.units or other.use_bias != one.use_bias:
                return None
        cell = one.cell
        i = _shape(cell.kernel)[0]
        options = [] if one.use_bias else ["bias=none"]
        if kind == "gru":
            options.append(f"reset_after={'true' if cell.reset_after else 'false'}")
        text = ("bi" if bidirectional else "") + f"{kind} {one.units}"
        text += f" ({', '.join(options)})" if options else ""
        # derive's bi- kinds concatenate (2h); another merge_mode ends the chain here.
        merged = bidirectional and layer.merge_mode != "concat"
        return [Unit(text, layer.name, needs=i, out=one.units * (2 if bidirectional else 1), alone=merged)]

    def attention(self, layer: Any, path: str) -> list[Unit] | None:
        q, k, v = (_shape(d.kernel) for d in (layer._query_dense, layer._key_dense, layer._value_dense))
        o = _shape(layer._output_dense.kernel)
        if len(q) != 3 or len(o) != 3 or k[0] != v[0]:
            return None
        i, heads, key_dim = q
        value_dim, d = v[2], o[2]
        options = [f"heads={heads}"]
        if key_dim * heads != d:
            options.append(f"head_dim={key_dim}")
        if value_dim != key_dim:
            options.append(f"value_dim={value_dim}")
        if k[0] != i:
            options.append(f"kv_in={k[0]}")
        if not layer._use_bias:
            options.append("bias=none")
        return [Unit(f"attn {d} ({', '.join(options)})", path, needs=i, out=d)]

    def unknown(self, layer: Any, fresh: list[Any], why: str = "") -> list[Item]:
        name = type(layer).__name__
        weights = ", ".join(w.path.split("/", 1)[-1] for w in layer.weights)
        size = sum(math.prod(_shape(w)) for w in fresh)
        if self.strict:
            what = f"cannot be written in derive: {why}" if why else "has no kind in derive"
            raise UnsupportedModelError(
                f"Keras layer {name} '{layer.name}' {what} (weights: {weights})",
                hint=f"derive.from_keras(model, strict=False) writes it as an opaque row, params {size}",
            )
        for weight in fresh:
            self.seen.add(id(weight))
        self.notes.append(f"{name} '{layer.name}' ({weights}) is written as params {size}")
        if not fresh:
            return []
        text = f"params {size}"
        if all(not w.trainable for w in fresh):
            text += " (frozen)"
        elif any(not w.trainable for w in fresh):
            trainable = sum(math.prod(_shape(w)) for w in fresh if w.trainable)
            return [
                Unit(f"params {trainable}", layer.name, opaque=True),
                Unit(f"params {size - trainable} (frozen)", layer.name, opaque=True),
            ]
        return [Unit(text, layer.name, opaque=True)]


_POOLS = {"MaxPooling1D", "MaxPooling2D", "MaxPooling3D", "AveragePooling1D", "AveragePooling2D", "AveragePooling3D"}


def _same(values: Any) -> str:
    """``3`` for (3, 3), ``1x7`` for (1, 7): derive's k, stride and dilation."""
    values = tuple(int(v) for v in (values if isinstance(values, tuple | list) else (values,)))
    return str(values[0]) if len(set(values)) == 1 else "x".join(str(v) for v in values)


def _conv(layer: Any, name: str, w: dict[str, Any]) -> list[Unit] | None:
    """keras/src/layers/convolutional: Conv kernel (*k, i/g, filters); DepthwiseConv kernel
    (*k, i, m); SeparableConv depthwise (*k, i, m) and pointwise (1.., i·m, filters)."""
    rank = len(layer.kernel_size)
    options = [f"k={_same(layer.kernel_size)}"]
    if any(int(s) != 1 for s in layer.strides):
        options.append(f"stride={_same(layer.strides)}")
    if layer.padding == "same":
        options.append("pad=same")
    if any(int(d) != 1 for d in layer.dilation_rate):
        options.append(f"dilation={_same(layer.dilation_rate)}")
    bias = "bias=single" if "bias" in w else "bias=none"
    path = layer.name
    if name.startswith("Depthwise"):
        kernel = _shape(w["kernel"])
        i, m = kernel[-2], kernel[-1]
        text = f"dwconv ({', '.join([*options, *([f'mult={m}'] if m != 1 else []), bias])})"
        return [Unit(text, path, needs=i, out=i * m, rank=rank)]
    if name.startswith("Separable"):
        depthwise = _shape(w["depthwise_kernel"])
        i, m = depthwise[-2], depthwise[-1]
        filters = _shape(w["pointwise_kernel"])[-1]
        first = f"dwconv ({', '.join([*options, *([f'mult={m}'] if m != 1 else []), 'bias=none'])})"
        return [
            Unit(first, path, needs=i, out=i * m, rank=rank),
            Unit(f"conv {filters} (k=1, {bias})", path, needs=i * m, out=filters, rank=rank),
        ]
    kernel = _shape(w["kernel"])
    groups = int(getattr(layer, "groups", 1))
    if groups != 1:
        options.append(f"groups={groups}")
    i, filters = kernel[-2] * groups, kernel[-1]
    return [Unit(f"conv {filters} ({', '.join([*options, bias])})", path, needs=i, out=filters, rank=rank)]


def _batchnorm(layer: Any, w: dict[str, Any]) -> list[Unit] | None:
    """keras/src/layers/normalization/batch_normalization.py: gamma (scale), beta (center),
    moving_mean and moving_variance (non-trainable)."""
    if set(w) - {"gamma", "beta", "moving_mean", "moving_variance"} or "moving_mean" not in w:
        return None
    if "beta" in w and "gamma" not in w:
        return None  # beta without gamma: derive's batch norm has gamma whenever it has beta
    axis = layer.axis if isinstance(layer.axis, int) else None
    if axis not in (-1, len(layer.input.shape) - 1 if hasattr(layer, "input") else -1):
        return None
    options = []
    if "gamma" not in w:
        options.append("affine=false")
    elif "beta" not in w:
        options.append("bias=none")
    text = "bn" + (f" ({', '.join(options)})" if options else "")
    return [Unit(text, layer.name, needs=math.prod(_shape(w["moving_mean"])))]


def _pairs(padding: Any) -> list[tuple[int, int]]:
    """ZeroPadding's padding as (before, after) per dimension (keras/src/layers/reshaping)."""
    if isinstance(padding, int):
        return [(padding, padding)]
    return [tuple(p) if isinstance(p, tuple | list) else (p, p) for p in padding]


def _statistics_only(layer: Any, weights: list[Any]) -> bool:
    """A batch norm whose non-trainable weights are its moving statistics (the kind's own)."""
    frozen = {w.path.rsplit("/", 1)[-1] for w in weights if not w.trainable}
    return type(layer).__name__ == "BatchNormalization" and frozen == {"moving_mean", "moving_variance"}


def _pool(layer: Any, name: str) -> Unit:
    kind = "maxpool" if name.startswith("Max") else "avgpool"
    options = [f"k={_same(layer.pool_size)}"]
    if tuple(layer.strides) != tuple(layer.pool_size):
        options.append(f"stride={_same(layer.strides)}")
    if layer.padding == "same":
        options.append("pad=same")
    return Unit(f"{kind} ({', '.join(options)})", layer.name, spatial="pool")


def _graph_order(model: Any, layers: list[Any]) -> Steps | None:
    """The order of a functional model of one input and one output, if its graph is one chain
    with residual shortcuts (``Add`` of two): :func:`chain.ordered`."""
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        return None
    nodes: list[tuple[str, list[str], str | None]] = []
    for layer in layers:
        calls = getattr(layer, "_inbound_nodes", [])
        if len(calls) != 1:
            return None  # a layer called twice: one weight used in two places
        inputs = [t._keras_history.operation.name for t in calls[0].input_tensors]
        adds = type(layer).__name__ == "Add" and len(inputs) == 2
        nodes.append((layer.name, inputs, None if adds else layer.name))
    source = model.inputs[0]._keras_history.operation.name
    sink = model.outputs[0]._keras_history.operation.name
    return ordered(nodes, source, sink)


def _inputs(layer: Any) -> set[str]:
    """The names of the layers whose outputs ``layer`` takes (its first call)."""
    nodes = getattr(layer, "_inbound_nodes", [])
    if len(nodes) != 1:
        return set()
    return {t._keras_history.operation.name for t in nodes[0].input_tensors}


def from_keras(model: Any, strict: bool = True) -> Imported:
    """The spec of a built Keras 3 model (Sequential or functional), whose count is
    ``model.count_params()``, trainable and non-trainable as ``summary()`` shows them.

    ``strict=False`` writes a layer derive cannot map as ``params N`` instead of refusing it.
    """
    # Without keras installed, nothing given can be one of its models: the same error either way.
    try:
        import keras  # type: ignore[import-untyped]
    except ImportError:
        keras = None
    if keras is None or not isinstance(model, keras.Model):
        raise UnsupportedModelError(
            f"from_keras takes a Keras model, not {type(model).__name__}",
            hint="a torch module: derive.from_torch(module); a Hugging Face config: derive.from_hf(path)",
        )
    if not model.built:
        raise UnsupportedModelError(
            f"the Keras model '{model.name}' is not built, so its layers have no weights yet",
            hint="give it an input shape (keras.Input(...) first, or model.build(shape))",
        )
    try:
        return _imported(keras, model, strict, graphs=True)
    except DeriveError as error:
        if isinstance(error, UnsupportedModelError):
            raise
    # A graph read as a chain whose shapes do not follow (a layer left out changed them): a
    # part wherever the graph branches instead, which counts the same.
    return _imported(keras, model, strict, graphs=False)


def _imported(keras: Any, model: Any, strict: bool, graphs: bool) -> Imported:
    walker = _Walker(keras, strict, graphs)
    parts = Parts("keras")
    parts.add(walker.model(model))
    origin = f"Keras {type(model).__name__} '{model.name}'"
    text = parts.text() if parts.parts else "in 1 -> identity\nusing keras"
    imported = Imported(text, origin, "keras", tuple(walker.notes))
    result = imported.count()
    expected = int(model.count_params())
    trainable = sum(math.prod(_shape(w)) for w in model.trainable_weights)
    if result.total != expected or result.trainable != trainable:  # a bug: never a spec with another count
        raise UnsupportedModelError(
            f"derive's spec of '{model.name}' counts {result.total} ({result.trainable} trainable), "
            f"but Keras counts {expected} ({trainable} trainable)",
            hint="this is a bug in derive.from_keras; please report it with the model",
        )
    return imported


__all__ = ["from_keras"]
