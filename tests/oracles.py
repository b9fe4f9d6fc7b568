"""Framework oracles: a derive network built as a real PyTorch module and a real Keras 3 model.

The builders translate a network's *written* layers and options into framework calls, and leave
everything else to the framework's own defaults (``bias=True``, ``use_bias=True``,
``reset_after=True``): the tests then check that derive's ``pytorch`` and ``keras`` conventions
agree with those defaults. Output widths are never computed here: torch's come from a forward
pass on the ``meta`` device, Keras's from its functional API. Counts come from
``module.parameters()`` (which yields a shared parameter once) and ``model.count_params()``.
Nothing in this module counts a parameter itself.

What a framework cannot express raises :class:`Unsupported`: peepholes and ``nproj`` anywhere,
``proj`` and ``tied`` in Keras, ``reset_after=false`` and one bias vector per gate in a torch
recurrent layer, an embedding anywhere but first (frameworks feed it token ids).

Hugging Face ``transformers`` models are built from their config classes on the meta device
(:func:`hf_model`), and ``peft`` adds LoRA adapters to them or to any torch module
(:func:`lora_model`); their counts are ``parameters()`` again, and peft's own
``get_nb_trainable_parameters()``.

torch, keras, transformers and peft are imported inside the functions, so this module imports
without them; :func:`require` imports them for a test, skipping it when they are missing unless
``DERIVE_REQUIRE_ORACLES=1`` is set.
"""

from __future__ import annotations

import functools
import importlib
import math
import operator
import os
from dataclasses import dataclass, field
from types import ModuleType, SimpleNamespace
from typing import Any, NoReturn

import cnn_programs
import programs
import pytest
import sympy as sp
from programs import Branch, Chain, Element, Group, Part, Program, Residual

import derive
from derive import Layer, Network

#: Set to 1 (as CI does) to make a missing framework a test failure instead of a skip.
REQUIRE_ENV = "DERIVE_REQUIRE_ORACLES"

RECURRENT = {"rnn", "gru", "lstm"}


class Unsupported(ValueError):
    """The network uses something the framework has no way to build."""


def require(name: str) -> ModuleType:
    """Import ``name`` for a test: skip when it is missing, fail if ``DERIVE_REQUIRE_ORACLES=1``."""
    if name == "keras":
        # Keras 3 on the torch backend: no TensorFlow needed. Must be set before keras is imported.
        os.environ.setdefault("KERAS_BACKEND", "torch")
    try:
        return importlib.import_module(name)
    except ImportError as error:
        missing(f"{name} cannot be imported ({error})")


def missing(what: str) -> NoReturn:
    """Skip the test for a framework (or a part of one) that is not there, or fail it if
    ``DERIVE_REQUIRE_ORACLES=1``."""
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{REQUIRE_ENV}=1 but {what}")
    pytest.skip(f"{what}: pip install -e '.[test,oracle]'")


@dataclass(frozen=True)
class _Chain:
    """A one-part program's input width and layers, as these builders read them."""

    input: sp.Expr
    layers: tuple[_Layer, ...]


@dataclass(frozen=True)
class _Layer:
    """A layer with its written options as attributes (``None`` when not written)."""

    layer: Layer

    def __getattr__(self, name: str) -> Any:
        return getattr(self.layer, name)

    @property
    def options(self) -> SimpleNamespace:
        names = ("bias", "peephole", "proj", "nproj", "reset_after", "tied")
        return SimpleNamespace(**{n: self.layer.options.get(n) for n in names})


def network(spec: str | Network) -> _Chain:
    """``spec`` parsed (unless it is already a program), as one chain of layers."""
    program = spec if isinstance(spec, Network) else derive.parse(spec)
    (part,) = program.parts
    assert isinstance(part, derive.Part)
    assert all(isinstance(n, Layer) for n in part.chain)
    return _Chain(part.input.channels, tuple(_Layer(n) for n in part.chain))  # type: ignore[arg-type]


def _int(value: sp.Expr, what: str) -> int:
    if not value.is_Integer:
        raise Unsupported(f"{what} is symbolic ({sp.sstr(value)}): frameworks need numbers")
    return int(value)


def _family(layer: Any) -> str:
    return str(layer.spec.base)


def _common_checks(net: _Chain, framework: str) -> None:
    for n, layer in enumerate(net.layers):
        o = layer.options
        if o.peephole:
            raise Unsupported(f"{framework} has no peephole LSTM: {layer.dsl()}")
        if o.nproj is not None:
            raise Unsupported(f"{framework} has no non-recurrent projection (nproj): {layer.dsl()}")
        if layer.kind == "embed" and (n != 0 or layer.repeat != 1):
            raise Unsupported(f"a {framework} embedding takes token ids, so it must be the first layer: {layer.dsl()}")


# --- PyTorch -------------------------------------------------------------------------------------


def torch_model(spec: str | Network) -> Any:
    """The network as a ``torch.nn.Module`` on the meta device (no memory for weights).

    ``dense`` is ``nn.Linear``, ``embed`` is ``nn.Embedding``, and a recurrent layer ``xN`` is
    one ``nn.RNN``/``nn.GRU``/``nn.LSTM`` with ``num_layers=N`` (``bidirectional=True`` for the
    bi- kinds, ``proj_size`` for ``proj``). A ``tied`` dense layer's weight *is* the weight of
    the earlier embedding of its shape.
    """
    torch = require("torch")
    net = network(spec)
    _common_checks(net, "PyTorch")
    classes = {"rnn": torch.nn.RNN, "gru": torch.nn.GRU, "lstm": torch.nn.LSTM}

    class Chain(torch.nn.Module):
        """The layers in order; a recurrent module's output is the first item of its tuple."""

        def __init__(self) -> None:
            super().__init__()
            self.layers = torch.nn.ModuleList()

        def forward(self, x: Any) -> Any:
            for module in self.layers:
                x = module(x)
                x = x[0] if isinstance(x, tuple) else x
            return x

    chain = Chain()
    with torch.device("meta"):
        width = _int(net.input, "the input width")
        # A probe batch of one step, run through each module as it is added: the framework
        # itself says how wide each output is.
        ids = net.layers[0].kind == "embed"  # an embedding reads token ids
        probe = torch.zeros(1, 1, dtype=torch.long) if ids else torch.empty(1, 1, width)
        for layer in net.layers:
            size, repeat, o = _int(layer.size, "a size"), _int(layer.repeat, "a repeat count"), layer.options
            if probe.is_floating_point():
                width = int(probe.shape[-1])
            modules: list[Any] = []
            if layer.kind == "embed":
                modules.append(torch.nn.Embedding(width, size))
            elif layer.kind == "dense":
                for _ in range(repeat):
                    linear = torch.nn.Linear(width, size, bias=o.bias != "none")
                    if o.tied:
                        linear.weight = _tied_weight(chain, torch, linear.weight.shape)
                    modules.append(linear)
                    width = size
            else:
                family = _family(layer)
                if o.bias == "single":
                    raise Unsupported(f"a torch {family} has two bias vectors per gate or none: {layer.dsl()}")
                if family == "gru" and o.reset_after is False:
                    raise Unsupported(f"torch.nn.GRU applies the reset gate after W_hn h: {layer.dsl()}")
                extra = {} if o.proj is None else {"proj_size": _int(o.proj, "proj")}
                modules.append(
                    classes[family](
                        width,
                        size,
                        num_layers=repeat,
                        bias=o.bias != "none",
                        batch_first=True,
                        bidirectional=layer.spec.directions == 2,
                        **extra,
                    )
                )
            for module in modules:
                chain.layers.append(module)
                out = module(probe)
                probe = out[0] if isinstance(out, tuple) else out
    return chain


def _tied_weight(chain: Any, torch: ModuleType, shape: Any) -> Any:
    # nn.Linear(d, V).weight is V × d, the shape of nn.Embedding(V, d).weight: share the tensor.
    for module in chain.layers:
        if isinstance(module, torch.nn.Embedding) and module.weight.shape == shape:
            return module.weight
    raise Unsupported(f"no embedding of shape {tuple(shape)} to tie to")


def torch_count(spec: str | Network) -> int:
    """PyTorch's count: ``sum(p.numel() for p in module.parameters())``, shared tensors once."""
    return sum(p.numel() for p in torch_model(spec).parameters())


# --- Keras 3 -------------------------------------------------------------------------------------


def keras_model(spec: str | Network) -> Any:
    """The network as a functional Keras 3 model (on the torch backend).

    ``Dense``, ``Embedding``, ``SimpleRNN``, ``GRU(reset_after=...)``, ``LSTM``, each bi- kind
    wrapped in ``Bidirectional``; a layer ``xN`` is N layers; ``bias=none`` is ``use_bias=False``.
    Built under ``keras.device("meta")``: the weights have their shapes but no memory.
    """
    keras = require("keras")
    with keras.device("meta"):
        return _keras_model(keras, network(spec))


def _keras_model(keras: ModuleType, net: Network) -> Any:
    _common_checks(net, "Keras")
    classes = {"rnn": keras.layers.SimpleRNN, "gru": keras.layers.GRU, "lstm": keras.layers.LSTM}
    width = _int(net.input, "the input width")
    if net.layers[0].kind == "embed":
        inputs = keras.Input(shape=(None,), dtype="int32")
    else:
        inputs = keras.Input(shape=(None, width))
    x = inputs
    for n, layer in enumerate(net.layers):
        size, repeat, o = _int(layer.size, "a size"), _int(layer.repeat, "a repeat count"), layer.options
        if o.tied:
            raise Unsupported(f"Keras layers cannot share one weight between Embedding and Dense: {layer.dsl()}")
        if o.proj is not None:
            raise Unsupported(f"Keras's LSTM has no projection (proj): {layer.dsl()}")
        if layer.kind == "embed":
            x = keras.layers.Embedding(width, size)(x)
            continue
        if layer.kind == "dense":
            for _ in range(repeat):
                x = keras.layers.Dense(size, use_bias=o.bias != "none")(x)
            continue
        family = _family(layer)
        kwargs: dict[str, Any] = {"use_bias": o.bias != "none"}
        if family == "gru":
            if o.reset_after is not None:
                kwargs["reset_after"] = o.reset_after
            if o.bias == "double" and o.reset_after is False:
                raise Unsupported(f"Keras's GRU has two bias vectors only with reset_after=True: {layer.dsl()}")
        elif o.bias == "double":
            raise Unsupported(f"a Keras {family} has one bias vector per gate: {layer.dsl()}")
        last = n == len(net.layers) - 1
        for copy in range(repeat):
            cell = classes[family](size, return_sequences=not (last and copy == repeat - 1), **kwargs)
            x = (keras.layers.Bidirectional(cell) if layer.spec.directions == 2 else cell)(x)
    return keras.Model(inputs, x)


def keras_count(spec: str | Network) -> int:
    """Keras's count: ``model.count_params()``."""
    return int(keras_model(spec).count_params())


#: The oracle of each framework's convention in derive.
ORACLES = {"pytorch": torch_count, "keras": keras_count}


# --- Programs (language v2) ----------------------------------------------------------------------
#
# The same translation for a whole program (tests/programs.py): each part is a model of its own
# (the frameworks' counts of the parts are summed, as derive sums them), a group's copies and a
# layer's repeats are built one after the other, ``residual [A]`` is ``add { A | id }`` (as the
# language defines it), and a branch combines its outputs with the framework's own sum or
# concatenation. Every module is run on a probe as it is built, so the widths come from the
# framework; ``add`` insists on equal widths (both frameworks would broadcast a width of 1).


def program(spec: str | Program) -> Program:
    """``spec`` read by :func:`programs.parse`, unless it is already a program."""
    return spec if isinstance(spec, Program) else programs.parse(spec)


def _same_widths(widths: list[int]) -> None:
    if len(set(widths)) != 1:
        raise ValueError(f"add needs equal widths, got {widths}")


def _embedding_first(part: Part) -> tuple[int | None, Chain]:
    """The embedding's size if the part starts with one, and the rest of its chain."""
    first = part.chain[0]
    if isinstance(first, programs.Layer) and first.kind == "embed" and first.repeat == 1:
        return first.size, part.chain[1:]
    return None, part.chain


def _check_layer(layer: programs.Layer) -> None:
    if layer.kind == "embed":
        raise Unsupported(f"an embedding takes token ids, so it must come first in a part: {layer.text()}")
    if layer.proj is not None and not layer.kind.endswith("lstm"):
        raise ValueError(f"proj applies to lstm and bilstm only: {layer.text()}")


def _torch_nodes(torch: ModuleType) -> Any:
    """The container modules a program needs (defined here, where torch is imported)."""
    nn = torch.nn

    class Chain(nn.Module):
        """Its modules in order."""

        def __init__(self, modules: list[Any]) -> None:
            super().__init__()
            self.steps = nn.ModuleList(modules)

        def forward(self, x: Any) -> Any:
            for module in self.steps:
                x = module(x)
            return x

    class Sequence(nn.Module):
        """A recurrent module on (batch, T, features) that returns only its output sequence."""

        def __init__(self, rnn: Any) -> None:
            super().__init__()
            self.rnn = rnn

        def forward(self, x: Any) -> Any:
            return self.rnn(x)[0]

    class Branches(nn.Module):
        """Every body gets the input; their outputs are summed (add) or concatenated (concat)."""

        def __init__(self, op: str, bodies: list[Any]) -> None:
            super().__init__()
            self.op, self.bodies = op, nn.ModuleList(bodies)

        def forward(self, x: Any) -> Any:
            return self.combine(self.op, [body(x) for body in self.bodies])

        @staticmethod
        def combine(op: str, outs: list[Any]) -> Any:
            if op == "concat":
                return torch.cat(outs, dim=-1)
            _same_widths([int(out.shape[-1]) for out in outs])
            return functools.reduce(operator.add, outs)

    return Chain, Sequence, Branches


def torch_program(spec: str | Program) -> Any:
    """The program as a ``torch.nn.ModuleList`` of its parts, on the meta device.

    ``dense`` is ``nn.Linear``, an ``embed`` first in a part ``nn.Embedding``, a recurrent layer
    ``xN`` one ``nn.RNN``/``nn.GRU``/``nn.LSTM`` with ``num_layers=N`` (``batch_first``,
    ``bidirectional`` for the bi- kinds, ``proj_size`` for ``proj``) that returns its output
    sequence; ``relu``, ``tanh``, ``sigmoid``, ``dropout``, ``identity`` are ``nn.ReLU``,
    ``nn.Tanh``, ``nn.Sigmoid``, ``nn.Dropout``, ``nn.Identity``, and so is ``id``.
    """
    torch = require("torch")
    nn = torch.nn
    Chain, Sequence, Branches = _torch_nodes(torch)
    recurrent = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}
    sizeless = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "dropout": nn.Dropout, "identity": nn.Identity}

    def chain(elements: Chain, probe: Any) -> tuple[Any, Any]:
        modules = []
        for element in elements:
            module, probe = copies(element, probe)
            modules.append(module)
        return Chain(modules), probe

    def copies(element: Element, probe: Any) -> tuple[Any, Any]:
        if isinstance(element, programs.Layer) and element.kind in programs.RECURRENT:
            return one(element, probe)  # torch stacks the copies itself
        modules = []
        for _ in range(element.repeat):
            module, probe = one(element, probe)
            modules.append(module)
        return Chain(modules), probe

    def one(element: Element, probe: Any) -> tuple[Any, Any]:
        # A container's output comes from its parts' probes, so that each layer runs once.
        width = int(probe.shape[-1])
        if isinstance(element, Group):
            return chain(element.chain, probe)
        if isinstance(element, Residual):
            body, out = chain(element.chain, probe)
            return Branches("add", [body, nn.Identity()]), Branches.combine("add", [out, probe])
        if isinstance(element, Branch):
            built = [chain(body, probe) if body else (nn.Identity(), probe) for body in element.branches]
            bodies, outs = [module for module, _ in built], [out for _, out in built]
            return Branches(element.op, bodies), Branches.combine(element.op, outs)
        if element.kind in sizeless:
            module = sizeless[element.kind]()
        elif element.kind == "dense":
            module = nn.Linear(width, element.size, bias=element.bias)
        else:
            _check_layer(element)
            family = element.kind.removeprefix("bi")
            module = Sequence(
                recurrent[family](
                    width,
                    element.size,
                    num_layers=element.repeat,
                    bias=element.bias,
                    batch_first=True,
                    bidirectional=element.kind.startswith("bi"),
                    **({} if element.proj is None else {"proj_size": element.proj}),
                )
            )
        return module, module(probe)

    parts = nn.ModuleList()
    with torch.device("meta"):
        for part in program(spec).parts:
            size, rest = _embedding_first(part)
            if size is None:
                head, probe = [], torch.empty(1, 1, part.width)
            else:
                embedding = nn.Embedding(part.width, size)
                head, probe = [embedding], embedding(torch.zeros(1, 1, dtype=torch.long))
            body, _ = chain(rest, probe)
            parts.append(Chain([*head, body]))
    return parts


def torch_program_count(spec: str | Program) -> int:
    """PyTorch's count of the program: ``sum(p.numel() for p in module.parameters())``."""
    return sum(p.numel() for p in torch_program(spec).parameters())


def keras_program(spec: str | Program) -> Any:
    """The program as one functional Keras 3 model, an input and an output per part.

    Built under ``keras.device("meta")``, so no weight is allocated. ``Dense``, ``Embedding``
    (first in a part, on int32 token ids), ``SimpleRNN``, ``GRU``, ``LSTM`` with
    ``return_sequences=True`` (``Bidirectional`` for the bi- kinds), one layer per copy;
    ``Activation("relu")`` etc., ``Dropout``, ``Identity``; ``Add`` and ``Concatenate``.
    """
    keras = require("keras")
    L = keras.layers
    recurrent = {"rnn": L.SimpleRNN, "gru": L.GRU, "lstm": L.LSTM}
    sizeless = {"relu": lambda: L.Activation("relu"), "tanh": lambda: L.Activation("tanh")}
    sizeless |= {"sigmoid": lambda: L.Activation("sigmoid"), "dropout": lambda: L.Dropout(0.5), "identity": L.Identity}

    def chain(elements: Chain, x: Any) -> Any:
        for element in elements:
            for _ in range(element.repeat):
                x = one(element, x)
        return x

    def add(outs: list[Any]) -> Any:
        _same_widths([int(out.shape[-1]) for out in outs])
        return L.Add()(outs)

    def one(element: Element, x: Any) -> Any:
        if isinstance(element, Group):
            return chain(element.chain, x)
        if isinstance(element, Residual):
            return add([chain(element.chain, x), x])
        if isinstance(element, Branch):
            outs = [chain(body, x) if body else x for body in element.branches]
            return add(outs) if element.op == "add" else L.Concatenate(axis=-1)(outs)
        if element.kind in sizeless:
            return sizeless[element.kind]()(x)
        if element.kind == "dense":
            return L.Dense(element.size, use_bias=element.bias)(x)
        _check_layer(element)
        if element.proj is not None:
            raise Unsupported(f"Keras's LSTM has no projection (proj): {element.text()}")
        cell = recurrent[element.kind.removeprefix("bi")](element.size, return_sequences=True, use_bias=element.bias)
        return (L.Bidirectional(cell) if element.kind.startswith("bi") else cell)(x)

    inputs, outputs = [], []
    with keras.device("meta"):
        for part in program(spec).parts:
            size, rest = _embedding_first(part)
            if size is None:
                x = keras.Input(shape=(None, part.width))
                inputs.append(x)
            else:
                inputs.append(keras.Input(shape=(None,), dtype="int32"))
                x = L.Embedding(part.width, size)(inputs[-1])
            outputs.append(chain(rest, x))
        return keras.Model(inputs, outputs)


def keras_program_count(spec: str | Program) -> int:
    """Keras's count of the program: ``model.count_params()``."""
    return int(keras_program(spec).count_params())


#: The oracle of each framework's convention, for programs.
PROGRAM_ORACLES = {"pytorch": torch_program_count, "keras": keras_program_count}


# --- Hugging Face transformers and peft ----------------------------------------------------------
#
# A model is its config class called with the values given (everything else the config's own
# default) and its model class called on that config, on the meta device: no weight is
# allocated, so the published sizes build in a fraction of a second. transformers 5 and peft
# build the same modules on meta as on the CPU.


def parameter_count(module: Any) -> int:
    """``sum(p.numel() for p in module.parameters())``: a tied or shared tensor counts once."""
    return sum(p.numel() for p in module.parameters())


def hf_model(model: str, config: str, *, model_options: dict[str, Any] | None = None, **values: Any) -> Any:
    """``transformers.MODEL(transformers.CONFIG(**values), **model_options)`` on the meta device."""
    torch = require("torch")
    transformers = require("transformers")
    with torch.device("meta"):
        return getattr(transformers, model)(getattr(transformers, config)(**values), **(model_options or {}))


def hf_count(model: str, config: str, **values: Any) -> int:
    """Hugging Face's count of ``model`` built from ``config(**values)``."""
    return parameter_count(hf_model(model, config, **values))


def lora_model(module: Any, targets: list[str] | None, r: int, alpha: int = 8) -> Any:
    """peft's ``get_peft_model`` with ``LoraConfig(r, target_modules, lora_alpha, bias="none")``:
    the modules whose names end in a target get A (r × in) and B (out × r), the rest is frozen.
    Without targets, peft takes its default for the model's type."""
    peft = require("peft")
    config = peft.LoraConfig(r=r, lora_alpha=alpha, target_modules=targets, bias="none")
    return peft.get_peft_model(module, config)


def lora_counts(module: Any, targets: list[str], r: int, alpha: int = 8) -> tuple[int, int]:
    """(trainable, total) as peft reports them (``get_nb_trainable_parameters()``, the figures
    of ``print_trainable_parameters()``), after checking them against ``requires_grad``."""
    adapted = lora_model(module, targets, r, alpha)
    trainable, total = adapted.get_nb_trainable_parameters()
    assert trainable == sum(p.numel() for p in adapted.parameters() if p.requires_grad)
    assert total == parameter_count(adapted)
    return int(trainable), int(total)


# --- Convolutional programs ----------------------------------------------------------------------
#
# tests/cnn_programs.py's nets, built channels-first as torch modules and channels-last as Keras
# functional models. Options are translated as written and the frameworks' defaults do the rest
# (Conv2d bias=True, Conv2D use_bias=True, BatchNorm affine). A numeric Keras padding is a
# ZeroPadding layer before a "valid" conv or pool (Keras's layers pad only "same"). Each
# top-level element's output shape is read from the framework (a probe on the meta device for
# torch, the functional API's symbolic shape for Keras), written as derive writes shapes.


@dataclass(frozen=True)
class CnnCount:
    """A framework's view of one net: its counts and each top-level element's output shape."""

    total: int
    trainable: int
    non_trainable: int
    buffers: int
    shapes: tuple[str, ...]
    #: The framework's model itself: torch's to run under FlopCounterMode, either for the
    #: import oracles (tests/test_import_cnn.py).
    model: Any = field(default=None, compare=False)


def _shape_text(dims: Any) -> str:
    return "x".join(str(int(d)) for d in dims)


def _per_dim(value: Any, rank: int) -> tuple[int, ...]:
    return tuple(value) if isinstance(value, tuple) else (int(value),) * rank


def torch_cnn(net: cnn_programs.Net, device: str = "meta") -> CnnCount:
    """``net`` as torch modules (Conv{1,2}d, BatchNorm{1,2}d, MaxPool/AvgPool, Linear, ...),
    on the meta device (no memory for weights) unless ``device`` says another."""
    torch = require("torch")
    nn = torch.nn
    Chain, _, Branches = _torch_nodes(torch)
    rank = net.rank
    conv = {1: nn.Conv1d, 2: nn.Conv2d}[rank]
    bn = {1: nn.BatchNorm1d, 2: nn.BatchNorm2d}[rank]
    pools = {"maxpool": {1: nn.MaxPool1d, 2: nn.MaxPool2d}[rank], "avgpool": {1: nn.AvgPool1d, 2: nn.AvgPool2d}[rank]}
    gap = {1: nn.AdaptiveAvgPool1d, 2: nn.AdaptiveAvgPool2d}[rank]

    def concat_channels(outs: list[Any]) -> Any:
        return torch.cat(outs, dim=1)  # channels first

    class Concat(nn.Module):
        def __init__(self, bodies: list[Any]) -> None:
            super().__init__()
            self.bodies = nn.ModuleList(bodies)

        def forward(self, x: Any) -> Any:
            return concat_channels([body(x) for body in self.bodies])

    def padding(op: cnn_programs.Op) -> Any:
        pad = op.get("pad", "valid")
        if pad == "valid":
            return 0
        return pad  # an int, a tuple, or "same" (stride 1)

    def layer(op: cnn_programs.Op, x: Any) -> Any:
        channels = int(x.shape[1])
        if op.kind == "conv":
            return conv(
                channels,
                op.size,
                _per_dim(op.get("k"), rank),
                stride=op.get("stride", 1),
                padding=padding(op),
                dilation=op.get("dilation", 1),
                groups=op.get("groups", 1),
                bias=op.get("bias") != "none",
            )
        if op.kind == "dwconv":
            m = int(op.get("mult", 1))  # type: ignore[arg-type]
            return conv(
                channels,
                channels * m,
                _per_dim(op.get("k"), rank),
                stride=op.get("stride", 1),
                padding=padding(op),
                groups=channels,
                bias=op.get("bias") != "none",
            )
        if op.kind == "bn":
            return bn(channels, affine=op.get("affine") != "false")
        if op.kind in pools:
            k = op.get("k")
            return pools[op.kind](k, stride=op.get("stride", k), padding=op.get("pad", 0))
        if op.kind == "relu":
            return nn.ReLU()
        if op.kind == "flatten":
            return nn.Flatten()
        if op.kind == "globalpool":
            return nn.Sequential(gap(1), nn.Flatten())
        if op.kind == "dense":
            return nn.Linear(int(x.shape[-1]), op.size)
        raise Unsupported(op.text())

    def chain(elements: tuple[cnn_programs.Element, ...], x: Any) -> tuple[Any, Any]:
        modules = []
        for element in elements:
            module, x = one(element, x)
            modules.append(module)
        return Chain(modules), x

    def one(element: cnn_programs.Element, x: Any) -> tuple[Any, Any]:
        if isinstance(element, cnn_programs.Residual):
            body, out = chain(element.chain, x)
            return Branches("add", [body, nn.Identity()]), out + x
        if isinstance(element, cnn_programs.Branches):
            built = [chain(b, x) if b else (nn.Identity(), x) for b in element.branches]
            outs = [out for _, out in built]
            if element.op == "concat":
                return Concat([m for m, _ in built]), concat_channels(outs)
            return Branches("add", [m for m, _ in built]), functools.reduce(operator.add, outs)
        module = layer(element, x)
        return module, module(x)

    modules, shapes = [], []
    with torch.device(device):
        *spatial, channels = net.dims
        x = torch.empty(1, channels, *spatial)
        for element in net.chain:
            module, x = one(element, x)
            modules.append(module)
            dims = tuple(x.shape[1:])
            shapes.append(_shape_text(dims[1:] + dims[:1]) if len(dims) > 1 else _shape_text(dims))
    model = Chain(modules)
    total = sum(p.numel() for p in model.parameters())
    stats = sum(b.numel() for name, b in model.named_buffers() if name.rsplit(".", 1)[-1].startswith("running_"))
    return CnnCount(total, total, 0, stats, tuple(shapes), model)


def keras_cnn(net: cnn_programs.Net) -> CnnCount:
    """``net`` as a functional Keras model (Conv{1,2}D, DepthwiseConv{1,2}D, BatchNormalization,
    MaxPooling/AveragePooling, Flatten, GlobalAveragePooling, Dense, Add, Concatenate)."""
    keras = require("keras")
    L = keras.layers
    rank = net.rank
    convs = {1: L.Conv1D, 2: L.Conv2D}[rank]
    depthwise = {1: L.DepthwiseConv1D, 2: L.DepthwiseConv2D}[rank]
    zero = {1: L.ZeroPadding1D, 2: L.ZeroPadding2D}[rank]
    pools = {
        "maxpool": {1: L.MaxPooling1D, 2: L.MaxPooling2D}[rank],
        "avgpool": {1: L.AveragePooling1D, 2: L.AveragePooling2D}[rank],
    }
    gap = {1: L.GlobalAveragePooling1D, 2: L.GlobalAveragePooling2D}[rank]

    def padded(op: cnn_programs.Op, x: Any) -> tuple[str, Any]:
        pad = op.get("pad", "valid")
        if pad in ("valid", "same"):
            return str(pad), x
        pads = _per_dim(pad, rank)
        if any(pads):
            x = zero(pads[0] if rank == 1 else tuple((p, p) for p in pads))(x)
        return "valid", x

    def layer(op: cnn_programs.Op, x: Any) -> Any:
        if op.kind == "conv":
            mode, x = padded(op, x)
            return convs(
                op.size,
                _per_dim(op.get("k"), rank),
                strides=op.get("stride", 1),
                padding=mode,
                dilation_rate=op.get("dilation", 1),
                groups=op.get("groups", 1),
                use_bias=op.get("bias") != "none",
            )(x)
        if op.kind == "dwconv":
            mode, x = padded(op, x)
            return depthwise(
                _per_dim(op.get("k"), rank),
                strides=op.get("stride", 1),
                padding=mode,
                depth_multiplier=op.get("mult", 1),
                use_bias=op.get("bias") != "none",
            )(x)
        if op.kind == "bn":
            affine = op.get("affine") != "false"
            return L.BatchNormalization(center=affine, scale=affine)(x)
        if op.kind in pools:
            mode, x = padded(op, x)
            k = op.get("k")
            return pools[op.kind](pool_size=k, strides=op.get("stride", k), padding=mode)(x)
        if op.kind == "relu":
            return L.Activation("relu")(x)
        if op.kind == "flatten":
            return L.Flatten()(x)
        if op.kind == "globalpool":
            return gap()(x)
        if op.kind == "dense":
            return L.Dense(op.size)(x)
        raise Unsupported(op.text())

    def chain(elements: tuple[cnn_programs.Element, ...], x: Any) -> Any:
        for element in elements:
            x = one(element, x)
        return x

    def one(element: cnn_programs.Element, x: Any) -> Any:
        if isinstance(element, cnn_programs.Residual):
            return L.Add()([chain(element.chain, x), x])
        if isinstance(element, cnn_programs.Branches):
            outs = [chain(b, x) if b else x for b in element.branches]
            return L.Add()(outs) if element.op == "add" else L.Concatenate(axis=-1)(outs)
        return layer(element, x)

    shapes = []
    with keras.device("meta"):
        inputs = keras.Input(shape=net.dims)
        x = inputs
        for element in net.chain:
            x = one(element, x)
            shapes.append(_shape_text(x.shape[1:]))
        model = keras.Model(inputs, x)
    trainable = sum(math.prod(w.shape) for w in model.trainable_weights)
    non_trainable = sum(math.prod(w.shape) for w in model.non_trainable_weights)
    return CnnCount(int(model.count_params()), trainable, non_trainable, 0, tuple(shapes), model)
