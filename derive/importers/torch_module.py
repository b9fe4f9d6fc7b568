"""PyTorch modules: a spec from a ``torch.nn.Module``'s tree, exact by construction.

The walk maps each leaf module torch defines to a kind, from the attributes its constructor
stores (torch/nn/modules/*.py): ``Linear`` (in_features, out_features, bias) is ``dense``,
``Embedding``/``EmbeddingBag`` ``embed``, ``LayerNorm`` ``layernorm``, ``RMSNorm``
``rmsnorm``, ``RNN``/``GRU``/``LSTM`` the recurrent kinds (num_layers as ``xN``,
bidirectional as the bi- kinds, bias, proj_size as ``proj``), ``MultiheadAttention`` ``attn``,
``Conv1d/2d/3d`` ``conv`` (conv.py: weight (out, in/groups, *kernel_size)), ``BatchNorm*d``
``bn`` (batchnorm.py: weight, bias; running statistics as buffers), the pools (pooling.py),
and the modules without parameters (dropout, activations, ``Flatten``) their kinds.

Structure: an ``nn.Sequential`` is a chain (its children run in order), and consecutive
children that are the same layer, or the same chain, become one element ``xN``. Another
container is traced with ``torch.fx``, one level deep: where its forward calls its children
one after the other (with size-less functions such as ``F.relu`` between them; identity
shortcuts ``x + f(x)`` as ``residual``, projection shortcuts ``f(x) + g(x)`` as ``add``: He et
al. 2016), it is a chain too. Where it does not trace so, its forward can do anything, and
each child becomes parts of its own, labelled with its path (``encoder_0``); the parts are
summed, which is exact whatever the forward does. A chain also breaks into a new part where
the next layer's input width is not the width the chain has reached.

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

import warnings
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
    flat,
    join,
    label,
    ordered,
    reshaping,
    residual,
    with_option,
)

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


# Hugging Face transformers' own leaf modules, by module and class name: GPT-2's Conv1D
# (transformers/pytorch_utils.py: weight (nx, nf), bias (nf), a Linear with its weight
# transposed), the RMS norms of T5, LLaMA, Mistral and Qwen2 (modeling_*.py: one weight of the
# hidden size, no bias), and the activations of transformers/activations.py.
_HF_CONV1D = "transformers.pytorch_utils.Conv1D"
_HF_RMSNORMS = {
    "transformers.models.t5.modeling_t5.T5LayerNorm",
    "transformers.models.llama.modeling_llama.LlamaRMSNorm",
    "transformers.models.mistral.modeling_mistral.MistralRMSNorm",
    "transformers.models.qwen2.modeling_qwen2.Qwen2RMSNorm",
}
_HF_ACTIVATIONS = {
    "transformers.activations.GELUActivation": "gelu",
    "transformers.activations.NewGELUActivation": "gelu",
    "transformers.activations.FastGELUActivation": "gelu",
    "transformers.activations.SiLUActivation": "silu",
}


def _qualified(module: Any) -> str:
    return f"{type(module).__module__}.{type(module).__name__}"


class _Walker:
    def __init__(self, torch: Any, strict: bool, traced: bool = True) -> None:
        self.traced_ok = traced  # read forwards with torch.fx (off: children as parts)
        self.torch = torch
        self.nn = torch.nn
        self.strict = strict
        self.seen: dict[int, tuple[str, Unit | None]] = {}  # id(Parameter) -> (path, unit)
        self.modules: dict[int, str] = {}  # id(module) -> the path it was first found at
        self.notes: list[str] = []

    # -- modules to items --

    def module(self, module: Any, path: str) -> list[Item]:
        first = self.modules.setdefault(id(module), path)
        if first != path:  # one module in two places: its parameters count once, where first found
            if any(True for _ in module.parameters()):
                self.notes.append(f"{path or 'the module'} is {first or 'the module'} again: counted once, there")
            return []
        children = list(module.named_children())
        own = list(module.named_parameters(recurse=False))
        if not children or isinstance(module, self.nn.MultiheadAttention):  # its out_proj is its own
            return self.leaf(module, path)
        items: list[Item] = []
        if own:
            items += [Break(), *self.unknown(module, path, own, holder=True), Break()]
        if isinstance(module, self.nn.Sequential):
            return items + self.sequential(children, path)
        order = _traced_chain(self.torch, module) if self.traced_ok else None
        if order is not None:
            return items + self.traced(module, order, path)
        for name, child in children:
            items += [Break(), *self.module(child, join(path, name)), Break()]
        return items

    def traced(self, module: Any, order: Steps, path: str) -> list[Item]:
        """A container whose forward calls its children (and size-less functions) one after the
        other, as torch.fx traces it: the chain in the order of the calls, with its identity
        shortcuts; the children it never calls (with parameters still) come after, as parts."""
        children = dict(module.named_children())
        items = self.steps(children, order, path)
        called = set(flat(order))
        for name, child in children.items():
            if name not in called:
                items += [Break(), *self.module(child, join(path, name)), Break()]
        return items

    def steps(self, children: dict[str, Any], order: Steps, path: str) -> list[Item]:
        converted: list[tuple[str, list[Item]]] = []
        for step in order:
            branches = branches_of(step) if isinstance(step, list) else None
            if branches is not None:
                main, side = (self.steps(children, b, path) for b in branches)
                converted.append((path, added(main, side, path)))
            elif isinstance(step, list):
                converted.append((path, residual(self.steps(children, step, path), path)))
            elif step in children:
                converted.append((join(path, step), self.module(children[step], join(path, step))))
            else:
                converted.append((path, [Unit(step, path, spatial="flatten" if step == "flatten" else "")]))
        return collapse(converted)

    def sequential(self, children: list[tuple[str, Any]], path: str) -> list[Item]:
        return collapse([(join(path, name), self.module(child, join(path, name))) for name, child in children])

    def leaf(self, module: Any, path: str) -> list[Item]:
        nn = self.nn
        params = list(module.named_parameters(remove_duplicate=False))
        name = type(module).__name__
        shared = [(n, p) for n, p in params if id(p) in self.seen]
        if not _holds(module, params, nn):  # a subclass with parameters of its own
            return self.unknown(module, path, params)
        names = {n for n, _ in params}
        if not shared and _qualified(module) == _HF_CONV1D and names == {"weight", "bias"}:
            nx, nf = (int(n) for n in module.weight.shape)
            return self.own(module, Unit(f"dense {nf}", path, needs=nx, out=nf), params)
        if not shared and _qualified(module) in _HF_RMSNORMS and names == {"weight"} and module.weight.dim() == 1:
            return self.own(module, Unit("rmsnorm", path, needs=int(module.weight.shape[0])), params)
        d = getattr(module, "embedding_dim", 0)
        if isinstance(module, nn.Linear):
            return self.linear(module, path, params, shared)
        if isinstance(module, nn.Embedding | nn.EmbeddingBag) and not shared:
            return self.own(
                module,
                Unit(f"embed {d}", path, needs=module.num_embeddings, out=d, vocab=True),
                params,
                weight=module.weight,
            )
        if isinstance(module, nn.Embedding | nn.EmbeddingBag) and [n for n, _ in shared] == ["weight"]:
            source = self.tie_to(module.weight)
            if source is not None:
                return [Unit(f"embed {d} (tied={source})", path, needs=module.num_embeddings, out=d, vocab=True)]
        if shared:
            return self.unknown(module, path, params, why="it shares " + ", ".join(n for n, _ in shared))
        if isinstance(module, nn.LayerNorm | nn.RMSNorm):
            return self.norm(module, path, params)
        if type(module) in (nn.Conv1d, nn.Conv2d, nn.Conv3d):
            return self.conv(module, path, params)
        if isinstance(module, nn.modules.batchnorm._BatchNorm) and type(module).__name__.startswith("BatchNorm"):
            return self.batchnorm(module, path, params)
        pooled = _pool(module, nn)
        if pooled is not None:
            return [pooled]
        zero = (nn.ZeroPad1d, nn.ZeroPad2d, nn.ZeroPad3d)
        if not params and isinstance(module, zero) and len(set(module.padding)) == 1:
            # the same zero padding on every side: the pad of the convolution or pool after it
            return [Unit("", path, spatial="zeropad", out=int(module.padding[0]))]
        if not params and "Pool" in name:
            self.notes.append(
                f"{name}{' at ' + path if path else ''}: a pool derive does not write; the chain ends here"
            )
            return [Break()]
        if isinstance(module, nn.RNNBase):
            return self.recurrent(module, path, params)
        if isinstance(module, nn.MultiheadAttention):
            return self.attention(module, path, params)
        if not params and name in _SIZELESS:
            return [Unit(_SIZELESS[name], path)]
        qualified = _qualified(module)
        if not params and qualified in _HF_ACTIVATIONS:
            return [Unit(_HF_ACTIVATIONS[qualified], path)]
        if not params and isinstance(module, nn.Flatten):
            return [Unit("flatten", path, spatial="flatten")]
        if not params:
            where = f" at {path}" if path else ""
            if reshaping(name):
                self.notes.append(f"{name}{where} has no parameters and no kind in derive: left out, ending its chain")
                return [Break()]
            self.notes.append(f"{name}{where} has no parameters and no kind in derive: left out")
            return []
        return self.unknown(module, path, params)

    def own(self, module: Any, unit: Unit, params: list[tuple[str, Any]], weight: Any = None) -> list[Item]:
        """``unit`` holds ``params``: remember them (and its weight, for a later tie)."""
        for _, p in params:
            self.seen[id(p)] = (unit.path, unit)
        if weight is not None:
            unit.weight = id(weight)
        if params and all(not p.requires_grad for _, p in params):
            unit.text = with_option(unit.text, "frozen")
        return [unit]

    def tie_to(self, weight: Any) -> str | None:
        """The label of the earlier layer whose weight ``weight`` is, labelling it if need be."""
        _, unit = self.seen[id(weight)]
        if unit is None or unit.weight != id(weight):
            return None
        if unit.label is None:
            unit.label = label(unit.path or "tied")
        return unit.label

    def linear(
        self, module: Any, path: str, params: list[tuple[str, Any]], shared: list[tuple[str, Any]]
    ) -> list[Item]:
        bias = "" if module.bias is not None else "bias=none"
        text = f"dense {module.out_features}"
        unit = Unit(text, path, needs=module.in_features, out=module.out_features)
        if not shared:
            unit.text = with_option(text, bias)
            return self.own(module, unit, params, weight=module.weight)
        if [n for n, _ in shared] == ["weight"]:
            source = self.tie_to(module.weight)
            if source is not None:
                unit.text = with_option(with_option(text, bias), f"tied={source}")
                return self.own(module, unit, [(n, p) for n, p in params if n != "weight"])
        return self.unknown(module, path, params, why="it shares " + ", ".join(n for n, _ in shared))

    def norm(self, module: Any, path: str, params: list[tuple[str, Any]]) -> list[Item]:
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
        return self.own(module, Unit(text, path, needs=width, alone=alone), params)

    def conv(self, module: Any, path: str, params: list[tuple[str, Any]]) -> list[Item]:
        # torch/nn/modules/conv.py: weight (out, in/groups, *kernel_size), bias (out,).
        options = [f"k={_dims(module.kernel_size)}"]
        if any(s != 1 for s in module.stride):
            options.append(f"stride={_dims(module.stride)}")
        padding = module.padding
        if isinstance(padding, str):
            if padding == "same":
                options.append("pad=same")  # torch allows it with stride 1 only: ceil(n / 1) = n
        elif any(p != 0 for p in padding):
            options.append(f"pad={_dims(padding)}")
        if any(d != 1 for d in module.dilation):
            options.append(f"dilation={_dims(module.dilation)}")
        if module.groups != 1:
            options.append(f"groups={module.groups}")
        options.append("bias=single" if module.bias is not None else "bias=none")
        rank = len(module.kernel_size)
        unit = Unit(f"conv {module.out_channels} ({', '.join(options)})", path, needs=module.in_channels)
        unit.out, unit.rank = module.out_channels, rank
        return self.own(module, unit, params)

    def batchnorm(self, module: Any, path: str, params: list[tuple[str, Any]]) -> list[Item]:
        # torch/nn/modules/batchnorm.py: weight and bias (num_features) when affine; running_mean
        # and running_var buffers when track_running_stats (the convention's buffers).
        options = [] if module.affine else ["affine=false"]
        if not module.track_running_stats:
            options.append("stats=none")
        text = "bn" + (f" ({', '.join(options)})" if options else "")
        rank = {"BatchNorm1d": None, "BatchNorm2d": 2, "BatchNorm3d": 3}.get(type(module).__name__)
        return self.own(module, Unit(text, path, needs=module.num_features, rank=rank), params)

    def recurrent(self, module: Any, path: str, params: list[tuple[str, Any]]) -> list[Item]:
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
        return self.own(module, Unit(text, path, needs=module.input_size, out=out, rank=0), params)

    def attention(self, module: Any, path: str, params: list[tuple[str, Any]]) -> list[Item]:
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
        return self.own(module, Unit(text, path, needs=d, out=d), params)

    def unknown(
        self, module: Any, path: str, params: list[tuple[str, Any]], why: str = "", holder: bool = False
    ) -> list[Item]:
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
        unit = Unit(f"params {size}", path or "module", opaque=True)
        return self.own(module, unit, fresh)


def _traced_chain(torch: Any, module: Any) -> Steps | None:
    """The order in which ``module``'s forward calls its children, if torch.fx traces it as one
    chain: each step a call of a direct child, or of a size-less function derive has a kind for
    (relu, gelu, tanh, sigmoid, silu, flatten, dropout), taking the step before's output and
    nothing else; ``x + f(x)`` (the steps since x, added to x: He et al. 2016's identity
    shortcut) is a residual, a list of its steps. None where it does not trace, branches
    otherwise, or calls a child twice."""
    import operator

    adds = (operator.add, torch.add, operator.iadd)
    functional = torch.nn.functional
    kinds = {
        functional.relu: "relu",
        torch.relu: "relu",
        functional.gelu: "gelu",
        torch.tanh: "tanh",
        functional.tanh: "tanh",
        torch.sigmoid: "sigmoid",
        functional.sigmoid: "sigmoid",
        functional.silu: "silu",
        torch.flatten: "flatten",
        functional.dropout: "dropout",
    }
    methods = {"relu": "relu", "tanh": "tanh", "sigmoid": "sigmoid", "flatten": "flatten"}

    class OneLevel(torch.fx.Tracer):  # type: ignore[misc]
        def is_leaf_module(self, m: Any, qualname: str) -> bool:
            return True  # the direct children, not their insides

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            graph = OneLevel().trace(module)
    except Exception:  # control flow on values, unsupported calls: no order to be had
        return None
    nodes: list[tuple[str, list[str], str | None]] = []
    source = sink = ""
    called: set[str] = set()
    for node in graph.nodes:
        if node.op == "placeholder":
            if source:
                return None  # a second input
            source = node.name
            continue
        if node.op == "output":
            if not node.args or not hasattr(node.args[0], "name"):
                return None
            sink = node.args[0].name
            break
        inputs = [n.name for n in node.all_input_nodes]
        if node.op == "call_function" and node.target in adds and len(node.args) == 2 and not node.kwargs:
            nodes.append((node.name, inputs, None))
            continue
        step = _step(node, module, kinds, methods, called)
        if step is None:
            return None
        nodes.append((node.name, inputs, step))
    return ordered(nodes, source, sink)


def _step(node: Any, module: Any, kinds: dict[Any, str], methods: dict[str, str], called: set[str]) -> str | None:
    """One fx node as a step: a direct child's name, or the kind of a size-less function."""
    if node.op == "call_module" and "." not in node.target and node.target not in called:
        # a child with parameters is called once (twice would be one weight used twice);
        # a size-less one (an activation) may be called again
        if any(True for _ in module.get_submodule(node.target).parameters()):
            called.add(node.target)
        return str(node.target)
    if node.op == "call_function" and node.target in kinds:
        return kinds[node.target]
    if node.op == "call_method" and node.target in methods:
        return methods[node.target]
    return None


def _dims(values: tuple[int, ...]) -> str:
    """``3`` for (3, 3), ``1x7`` for (1, 7): derive's k, stride, pad and dilation."""
    return str(values[0]) if len(set(values)) == 1 else "x".join(str(v) for v in values)


def _pool(module: Any, nn: Any) -> Unit | None:
    """A pooling module (torch/nn/modules/pooling.py) as a kind, if derive has one for it."""
    name = type(module).__name__
    if isinstance(module, nn.MaxPool1d | nn.MaxPool2d | nn.MaxPool3d | nn.AvgPool1d | nn.AvgPool2d | nn.AvgPool3d):
        k = _as_tuple(module.kernel_size)
        stride = _as_tuple(module.stride or module.kernel_size)
        pad = _as_tuple(module.padding)
        if getattr(module, "dilation", 1) not in (1, (1,), (1, 1), (1, 1, 1)):
            return None
        kind = "maxpool" if name.startswith("Max") else "avgpool"
        if len(set(k)) != 1 or len(set(stride)) != 1 or len(set(pad)) != 1:
            return None  # derive's pools take one k, stride and pad for every dimension
        options = [f"k={k[0]}"]
        if stride[0] != k[0]:
            options.append(f"stride={stride[0]}")
        if pad[0] != 0:
            options.append(f"pad={pad[0]}")
        if module.ceil_mode:
            return None  # ceil on a symbolic size is not decided: the chain ends here instead
        return Unit(f"{kind} ({', '.join(options)})", "", spatial="pool")
    if isinstance(module, nn.AdaptiveAvgPool1d | nn.AdaptiveAvgPool2d | nn.AdaptiveAvgPool3d | nn.AdaptiveMaxPool2d):
        sizes = _as_tuple(module.output_size)
        if None in sizes or len(set(sizes)) != 1:
            return None
        return Unit(f"adaptivepool (out={sizes[0]})", "", spatial="adaptive", out=int(sizes[0]))
    return None


def _as_tuple(value: Any) -> tuple[Any, ...]:
    return tuple(value) if isinstance(value, tuple | list) else (value,)


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


def from_torch(module: Any, strict: bool = True) -> Imported:
    """The spec of a ``torch.nn.Module``, whose count is ``sum(p.numel() for p in
    module.parameters())``.

    ``strict=False`` writes a module derive cannot map as ``params N`` instead of refusing it.
    """
    # Without torch installed, nothing given can be one of its modules: the same error either way.
    try:
        import torch
    except ImportError:
        torch = None  # type: ignore[assignment]
    if torch is None or not isinstance(module, torch.nn.Module):
        raise UnsupportedModelError(
            f"from_torch takes a torch.nn.Module, not {type(module).__name__}",
            hint="a Keras model: derive.from_keras(model); a Hugging Face config: derive.from_hf(path)",
        )
    expected = sum(p.numel() for p in module.parameters())
    try:
        return _imported(torch, module, strict, expected, traced=True)
    except DeriveError as error:
        if isinstance(error, UnsupportedModelError):
            raise
    # A forward read as a chain whose shapes do not follow (a layer left out changed them):
    # the children as parts instead, which counts the same.
    return _imported(torch, module, strict, expected, traced=False)


def _imported(torch: Any, module: Any, strict: bool, expected: int, traced: bool) -> Imported:
    walker = _Walker(torch, strict, traced)
    parts = Parts("pytorch")
    parts.add(walker.module(module, ""))
    origin = f"torch {type(module).__name__}"
    if not parts.parts:
        if expected:
            raise UnsupportedModelError(f"derive found no layer it can write in {type(module).__name__}")
        return Imported("in 1 -> identity\nusing pytorch", origin, "pytorch", tuple(walker.notes))
    imported = Imported(parts.text(), origin, "pytorch", tuple(walker.notes))
    got = imported.count().total
    if got != expected:  # a bug in the walk: never hand back a spec with another count
        raise UnsupportedModelError(
            f"derive's spec of {type(module).__name__} counts {got}, but torch counts {expected}",
            hint="this is a bug in derive.from_torch; please report it with the module",
        )
    return imported


__all__ = ["from_torch"]
