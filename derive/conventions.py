"""Conventions: named bundles of defaults for counting, as data.

A convention says, for each layer family, which options a layer has when it does not say
(bias vectors, peepholes, the GRU variant), and whether recurrent layers get skip connections.
An option written on a layer always wins. Adding a convention is one entry in
:data:`CONVENTIONS` and one section in ``docs/conventions.md``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from .errors import Span, lookup
from .model import Options


@dataclass(frozen=True)
class Convention:
    """How a framework or a paper counts.

    ``defaults`` maps a layer family (``dense``, ``rnn``, ``gru``, ``lstm``; ``embed`` has no
    options) to the options its layers take by default. ``skip`` adds the skip connections of
    Graves 2013: in each run of consecutive recurrent layers, the run's input feeds every layer
    of the run, and every layer of the run feeds the layer after the run.
    """

    name: str
    title: str
    source: str
    defaults: Mapping[str, Options] = field(hash=False)
    skip: bool = False
    aliases: tuple[str, ...] = ()

    def options(self, family: str) -> Options:
        """The default options of a layer of ``family`` under this convention."""
        return self.defaults.get(family, Options())


_SINGLE = Options(bias="single")
_NONE = Options(bias="none")

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
                "gru": Options(bias="single", reset_after=True),
                "lstm": _SINGLE,
            },
            aliases=("tensorflow", "tf"),
        ),
        Convention(
            name="pytorch",
            title="PyTorch / cuDNN: two bias vectors per gate (b_ih, b_hh)",
            source="torch.nn.Linear, RNN, GRU, LSTM with bias=True",
            defaults={
                "dense": _SINGLE,
                "rnn": Options(bias="double"),
                "gru": Options(bias="double"),
                "lstm": Options(bias="double"),
            },
            aliases=("torch",),
        ),
        Convention(
            name="plain",
            title="textbook weights only: g·h(i + h), no biases",
            source="the weight-matrix count 4h(i + h) of the LSTM equations",
            defaults={"dense": _NONE, "rnn": _NONE, "gru": _NONE, "lstm": _NONE},
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
                "lstm": Options(bias="single", peephole=True),
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
                "lstm": Options(bias="none", peephole=True),
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
