"""Conventions: named bundles of defaults for counting, as data.

A convention says, for each layer family, which options a layer has when it does not say
(bias vectors, peepholes, the GRU variant), and whether recurrent layers get skip connections.
An option written on a layer always wins. Adding a convention is one entry in
:data:`CONVENTIONS` and one section in ``docs/conventions.md``.

Graves's skip connections are a rewrite of the model tree (:func:`skip_runs`): each run of
consecutive recurrent layers in a chain becomes one :class:`SkipRun` node, which the
derivation counts with the run's input fed to every layer of the run.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

from .errors import Span, lookup
from .model import Layer, Node

Options = Mapping[str, object]


@dataclass(frozen=True)
class Convention:
    """How a framework or a paper counts.

    ``defaults`` maps a layer family (``dense``, ``rnn``, ``gru``, ``lstm``) to the options its
    layers take by default; a kind not named keeps its own defaults. ``proj_below_size``
    refuses an LSTM projection as wide as the cell (PyTorch requires proj_size < hidden_size).
    ``skip`` adds the skip connections of Graves 2013: in each run of consecutive recurrent
    layers, the run's input feeds every layer of the run, and every layer of the run feeds the layer after the run.
    """

    name: str
    title: str
    source: str
    defaults: Mapping[str, Options] = field(hash=False)
    skip: bool = False
    aliases: tuple[str, ...] = ()
    proj_below_size: bool = False

    def options(self, family: str) -> Options:
        """The default options of a layer of ``family`` under this convention."""
        return self.defaults.get(family, {})


_SINGLE: Options = {"bias": "single"}
_NONE: Options = {"bias": "none"}

# Convolutions and batch norm (SPEC §9). Keras and PyTorch give a convolution a bias (Conv2D
# use_bias=True; nn.Conv2d bias=True) and batch norm gamma and beta; their running mean and variance
# are non-trainable weights in Keras (BatchNormalization's moving_mean, moving_variance) and
# buffers in PyTorch (BatchNorm2d's running_mean, running_var). A convolution written bias=bn
# (the ResNets' convolutions before batch norm) keeps its bias in keras.applications
# (resnet.py: use_bias=True) and not in torchvision (resnet.py: bias=False). Plain keeps gamma only.
# Paper conventions take Keras's (the kinds' own defaults).
_KERAS_CNN: Mapping[str, Options] = {
    "conv": {"bias": "single", "bn_bias": "single"},
    "batchnorm": {"bias": "single", "stats": "non_trainable"},
}
_PYTORCH_CNN: Mapping[str, Options] = {
    "conv": {"bias": "single", "bn_bias": "none"},
    "batchnorm": {"bias": "single", "stats": "buffers"},
}
_PLAIN_CNN: Mapping[str, Options] = {
    "conv": {"bias": "none", "bn_bias": "none"},
    "batchnorm": {"bias": "none", "stats": "none"},
}

#: Every convention by its canonical name. ``keras`` is the default.
CONVENTIONS: dict[str, Convention] = {
    c.name: c
    for c in (
        Convention(
            name="keras",
            title="Keras 3 / tf.keras defaults",
            source="keras.layers Dense, SimpleRNN, GRU (reset_after=True), LSTM: use_bias=True",
            defaults={
                "dense": _SINGLE,
                "rnn": _SINGLE,
                "gru": {"bias": "single", "reset_after": True},
                "lstm": _SINGLE,
                # keras.layers.MultiHeadAttention's EinsumDense kernels keep the head axis,
                # and their LoRA factors it with the input (EinsumDense.enable_lora).
                "attn": {"lora_layout": "keras"},
                **_KERAS_CNN,
            },
            aliases=("tensorflow", "tf"),
        ),
        Convention(
            name="pytorch",
            title="PyTorch / cuDNN: two bias vectors per gate (b_ih, b_hh)",
            source="torch.nn.Linear, RNN, GRU, LSTM with bias=True",
            defaults={
                "dense": _SINGLE,
                "rnn": {"bias": "double"},
                "gru": {"bias": "double"},
                "lstm": {"bias": "double"},
                **_PYTORCH_CNN,
            },
            aliases=("torch",),
            proj_below_size=True,
        ),
        Convention(
            name="plain",
            title="textbook weights only: g·h(i + h), no biases",
            source="the weight-matrix count 4h(i + h) of the LSTM equations",
            defaults={
                "dense": _NONE,
                "rnn": _NONE,
                "gru": _NONE,
                "lstm": _NONE,
                # SPEC §9: plain drops every bias vector; norms keep their gains.
                "attn": _NONE,
                "mlp": _NONE,
                "layernorm": _NONE,
                **_PLAIN_CNN,
            },
            aliases=("textbook",),
        ),
        Convention(
            name="graves2013",
            title="Graves 2013: biases, peepholes, skip connections",
            source="A. Graves, Generating Sequences With Recurrent Neural Networks, 2013, eqs. 1-3, 7-11",
            defaults={
                "dense": _SINGLE,
                "rnn": _SINGLE,
                "gru": _SINGLE,
                "lstm": {"bias": "single", "peephole": True},
            },
            skip=True,
            aliases=("graves",),
        ),
        Convention(
            name="sak2014",
            title="Sak, Senior, Beaufays 2014 (LSTMP): weights and peepholes, no biases",
            source="H. Sak, A. Senior, F. Beaufays, Long Short-Term Memory Based Recurrent Neural "
            "Network Architectures for Large Vocabulary Speech Recognition, 2014",
            defaults={
                "dense": _NONE,
                "rnn": _NONE,
                "gru": _NONE,
                "lstm": {"bias": "none", "peephole": True},
            },
            aliases=("sak",),
        ),
    )
}

DEFAULT = "keras"

#: Every name a convention is known by, to its canonical name.
CONVENTION_NAMES: dict[str, str] = {name: c.name for c in CONVENTIONS.values() for name in (c.name, *c.aliases)}


def convention(name: str | None, span: Span | None = None) -> Convention:
    """The convention called ``name`` (or an alias of it); ``None`` gives the default."""
    return CONVENTIONS[lookup(name or DEFAULT, CONVENTION_NAMES, "convention", span)]


class SkipRun(NamedTuple):
    """A run of consecutive recurrent layers under Graves's skip connections (Graves 2013,
    eqs. 1-3): the run's input feeds every layer of the run, and every layer of the run feeds
    the layer after it. Made by :func:`skip_runs`; never written by a user."""

    layers: tuple[Layer, ...]


def skip_runs(chain: tuple[Node, ...]) -> tuple[Node | SkipRun, ...]:
    """``chain`` with each run of consecutive recurrent layers made one :class:`SkipRun`.

    The rule applies within one chain level: a group, branch or block call ends a run.
    """
    out: list[Node | SkipRun] = []
    run: list[Layer] = []
    for node in chain:
        if isinstance(node, Layer) and node.spec.recurrent:
            run.append(node)
            continue
        if run:
            out.append(SkipRun(tuple(run)))
            run = []
        out.append(node)
    if run:
        out.append(SkipRun(tuple(run)))
    return tuple(out)
