"""REPL: an interactive prompt over the public API.

:class:`Session` holds the state (convention, bound symbols, the last spec, the answer format)
and answers one line at a time with the text to print, so it is tested without a terminal; it
never raises for a line, whatever the line. :data:`COMMAND_TABLE` declares the ``:commands``,
each with what it takes, so that every command checks its words the same way and ``:help`` is
written from the same table. :func:`run` puts prompt_toolkit around a session on a terminal
(line editing, persistent history, tab completion) and reads lines directly from a file or a
pipe. prompt_toolkit is imported only here, so the one-shot CLI does not pay for it.
"""

from __future__ import annotations

import argparse
import codecs
import json
import os
import re
import sys
import traceback
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import sympy as sp

from .api import Result, count, size_value
from .compare import compare
from .compute import COMPUTE_SYMBOLS
from .conventions import CONVENTION_NAMES, CONVENTIONS, convention
from .errors import DeriveError, UnknownNameError, did_you_mean
from .kinds import KIND_NAMES, KINDS, SHORTHANDS
from .model import BlockDef, NetDef
from .parse import Scope, load, parse, prelude

if TYPE_CHECKING:
    from prompt_toolkit.completion import Completer
    from prompt_toolkit.history import History
    from prompt_toolkit.input import Input
    from prompt_toolkit.output import Output

    from .budget import Solution


class CommandError(DeriveError, ValueError):
    """A REPL command that cannot be carried out, or a flag that does not apply to the REPL."""


_BINDING = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)=([0-9](?:_?[0-9])*)\Z")


def parse_binding(text: str) -> tuple[str, int]:
    """``NAME=VALUE`` as ``:set`` takes it: a symbol name and a positive whole number, digits
    only (``_`` may separate them), read as the language reads a number, so at most as many
    digits as a size in a spec. Nothing else is accepted, and the text never reaches SymPy.

    >>> parse_binding("n=4_096")
    ('n', 4096)
    """
    match = _BINDING.match(text)
    if not match:
        raise CommandError(f"expected NAME=VALUE with a positive whole number, not '{_shown(text)}'")
    return _binding(match[1], match[2])


def _binding(name: str, value: object) -> tuple[str, int]:
    """A symbol's binding as a whole number, from digits or from Python (an int, a SymPy
    integer); anything else is an error, and a string is never handed to SymPy."""
    size = size_value(name, value)
    if not size.is_Integer:
        raise CommandError(f"the binding of '{name}' must be a whole number, not {_shown(sp.sstr(size))}")
    return name, int(size)


def _shown(text: str, limit: int = 60) -> str:
    """``text`` as quoted in a message: cut short if long, so one bad word stays one line."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


# Hints written for the command line, and what the REPL calls the same thing.
_CLI_WORDS = (
    (re.compile(r"--set(?: \(or :set\))?"), ":set"),
    (re.compile(r"\.subs\(name=value\) or "), ""),
)


def in_repl_words(text: str) -> str:
    """``text`` (a hint written for the command line) with the REPL's words: ``:set``, not ``--set``.

    >>> in_repl_words("bind all but one with --set (or :set), e.g. --set n=...")
    'bind all but one with :set, e.g. :set n=...'
    """
    for pattern, word in _CLI_WORDS:
        text = pattern.sub(word, text)
    return text


@dataclass
class Session:
    """The REPL's state, and :meth:`handle` to answer one line.

    ``json`` makes every answer one line of JSON (as ``derive repl --json``); ``debug`` adds the
    traceback to the message of an internal error. ``failed`` says whether the last line
    handled was answered with an error.
    """

    convention: str | None = None
    bindings: dict[str, int] = field(default_factory=dict)
    last: str | None = None
    done: bool = False
    json: bool = False
    debug: bool = False
    depth: int = 0
    scope: Scope | None = None
    failed: bool = field(default=False, init=False)
    defined: list[BlockDef | NetDef] = field(default_factory=list, init=False)

    def __post_init__(self) -> None:
        # Definitions typed at the prompt last for the session: a scope over the prelude's.
        self.scope = (self.scope or prelude()).child()
        if self.convention is not None:
            self.convention = convention(self.convention).name
        self.bindings = dict(_binding(name, value) for name, value in self.bindings.items())

    def handle(self, line: str) -> str:
        """The text to print in answer to ``line`` (a spec or a ``:command``); ``""`` for a
        blank line or a comment. A mistake is answered with its error message, and so is a bug
        in derive (as a one-line internal error): the session goes on either way."""
        text = line.strip()
        self.failed = False
        if not text or text.startswith("#"):
            return ""
        try:
            if text.startswith(":"):
                name, *rest = text[1:].split(maxsplit=1)
                return self._command(name, rest[0] if rest else "")
            if _only_definitions(text, self.scope):
                return self._define(text)
            result = self._count(text)
            self.last = text
            self._keep(result.source.definitions)
            return self._dumps(result.as_dict()) if self.json else result.text(self.depth)
        except DeriveError as error:
            return self.answer_error(error, text)
        except Exception as error:  # a bug in derive: say so in one line, and keep the session
            first = (str(error).strip().splitlines() or [""])[0]
            what = type(error).__name__ + (f": {_shown(first, 200)}" if first else "")
            internal = DeriveError(f"internal error: {what} (a bug in derive: please report the line you typed)")
            detail = "\n" + traceback.format_exc().rstrip("\n") if self.debug else ""
            return self.answer_error(internal, text) + detail

    def answer_error(self, error: DeriveError, text: str | None = None) -> str:
        """The answer to ``text`` (a spec or a command, if there is one) that failed with
        ``error``: its message in the REPL's words (``:set``, not ``--set``), as text or as
        JSON. Sets :attr:`failed`."""
        self.failed = True
        error.message = in_repl_words(error.message)
        error.hint = error.hint and in_repl_words(error.hint)
        if not self.json:
            return error.render()
        place = {"message": error.message, "line": error.line, "column": error.column, "hint": error.hint}
        return self._dumps({"command" if text and text.startswith(":") else "spec": text, "error": place})

    @staticmethod
    def _dumps(data: Any) -> str:
        return json.dumps(data, ensure_ascii=False)

    def _count(self, spec: str, default: str | None = None) -> Result:
        """``spec`` counted under its own ``using``, else ``default``, else the session's
        convention; with the session's bindings for the symbols it has."""
        written = parse(spec, self.scope).convention
        result = count(spec, None if written else default or self.convention, prelude=self.scope)
        # the compute sizes T and B too: counts do not use them, FLOPs and memory do
        bound = self._bindings_for([*result.symbols, *COMPUTE_SYMBOLS.values()])
        return result.subs(**bound) if bound else result

    def _bindings_for(self, symbols: list[sp.Symbol]) -> dict[str, int]:
        """The session's bindings for the symbols a spec has (the others wait for later specs)."""
        names = {s.name for s in symbols}
        return {k: v for k, v in self.bindings.items() if k in names}

    def _last(self) -> str:
        if self.last is None:
            raise CommandError("no spec yet: type one first, e.g. in 205 -> lstm 700 x5 -> dense 205")
        return self.last

    def _command(self, name: str, rest: str) -> str:
        command = COMMAND_TABLE.get(name)
        if command is None:
            raise UnknownNameError(
                f"unknown command ':{_shown(name)}'{did_you_mean(':' + name, [':' + c for c in COMMANDS])}",
                hint="type :help for the commands",
            )
        command.check(rest)
        return command.answer(self, rest)

    # One method per command; each gets the words after the command, already counted.

    def _convention(self, rest: str) -> str:
        if rest:
            self.convention = convention(rest).name
        chosen = convention(self.convention)
        if self.json:
            return self._dumps({"convention": chosen.name, "title": chosen.title})
        return f"convention: {chosen.name} ({chosen.title})"

    def _set(self, rest: str) -> str:
        bindings: dict[str, int] = {}
        for name, value in map(parse_binding, rest.split()):  # all of them, or none
            if name in bindings:
                raise CommandError(f"{name} is given twice", hint="give each symbol one value")
            bindings[name] = value
        self.bindings.update(bindings)
        return self._bound()

    def _unset(self, rest: str) -> str:
        names = list(dict.fromkeys(rest.split())) or list(self.bindings)
        for name in names:
            if name not in self.bindings:
                raise CommandError(f"'{_shown(name)}' is not bound{did_you_mean(name, self.bindings)}")
        for name in names:
            del self.bindings[name]
        return self._bound()

    def _bound(self) -> str:
        if self.json:
            return self._dumps({"bound": self.bindings})
        return "bound: " + (", ".join(f"{k}={v}" for k, v in self.bindings.items()) or "nothing")

    def _define(self, text: str) -> str:
        """Blocks and nets typed alone: kept for the rest of the session."""
        assert self.scope is not None
        found = load(text, origin="the prompt", parent=self.scope)
        definitions: list[BlockDef | NetDef] = [*found.blocks.values(), *found.nets.values()]
        self._keep(definitions)
        names = ", ".join(d.name for d in definitions)
        return self._dumps({"defined": [d.name for d in definitions]}) if self.json else f"defined: {names}"

    def _keep(self, definitions: Sequence[BlockDef | NetDef]) -> None:
        assert self.scope is not None
        for definition in definitions:
            self.scope.define(definition)
            self.defined = [d for d in self.defined if d.name != definition.name] + [definition]

    def _defs(self, rest: str) -> str:
        if self.json:
            return self._dumps({"definitions": [d.dsl() for d in self.defined]})
        if not self.defined:
            return "no definitions yet: type one, e.g. block pair w = dense w -> dense w"
        return "\n".join(d.dsl() for d in self.defined)

    def _depth(self, rest: str) -> str:
        if rest:
            if not rest.isdigit() or len(rest) > 4:
                raise CommandError(f":depth takes a whole number of levels, not '{_shown(rest)}'")
            self.depth = int(rest)
        return self._dumps({"depth": self.depth}) if self.json else f"depth: {self.depth}"

    def names(self) -> list[str]:
        """The blocks and nets the session can call, for completion."""
        assert self.scope is not None
        blocks, nets = self.scope.names()
        return sorted({*blocks, *nets})

    def _explain(self, rest: str) -> str:
        result = self._count(self._last())
        return self._dumps(result.explain_dict()) if self.json else result.explain()

    def _compare(self, rest: str) -> str:
        names = [n.strip() for n in rest.replace(",", " ").split()] or None
        spec = self._last()
        comparison = compare(spec, names, self._bindings_for(parse(spec, self.scope).symbols), prelude=self.scope)
        return self._dumps(comparison.as_dict()) if self.json else comparison.text()

    def _latex(self, rest: str) -> str:
        if rest not in ("", "standalone", "--standalone"):
            raise CommandError(
                f":latex takes nothing or 'standalone', not '{_shown(rest)}'", hint="write :latex [standalone]"
            )
        latex = self._count(self._last()).latex(standalone=bool(rest))
        return self._dumps({"latex": latex}) if self.json else latex

    def _json(self, rest: str) -> str:
        return self._dumps(self._count(self._last()).as_dict())

    def _flops(self, rest: str) -> str:
        from .render import compute as shown

        words = rest.lower().split()
        wrong = [w for w in words if w not in ("macs", "train")]
        if wrong:
            raise CommandError(
                f":flops takes 'macs' and 'train', not '{_shown(wrong[0])}'", hint="write :flops [macs] [train]"
            )
        unit = "macs" if "macs" in words else "flops"
        result = self._count(self._last())
        if self.json:
            return self._dumps(shown.compute_dict(result, unit, "train" in words, None))
        return "\n".join([result.text(self.depth, unit), *shown.lines(result, unit, "train" in words)])

    def _memory(self, rest: str) -> str:
        from .render import compute as shown

        words = rest.split()
        result = self._count(self._last())
        memory = result.memory(*words)
        if self.json:
            return self._dumps(shown.compute_dict(result, None, False, memory))
        return "\n".join(shown.memory_lines(memory))

    def _plot(self, rest: str) -> str:
        """``:plot FILE [flops|macs|memory] [NAME=A..B]``: the picture ``--plot`` draws."""
        from .render import plot

        path, *words = rest.split()
        measures = [w for w in words if w in ("flops", "macs", "memory")]
        ranges = [w for w in words if "=" in w]
        wrong = [w for w in words if w not in measures and w not in ranges]
        if wrong or len(measures) > 1 or len(ranges) > 1:
            raise CommandError(
                f":plot takes a file, one of flops, macs or memory, and a range, not '{_shown(' '.join(words))}'",
                hint="write :plot FILE.svg [flops|macs|memory] [NAME=A..B]",
            )
        what = measures[0] if measures else "params"
        result = self._count(self._last())
        if ranges:
            from .api import presets_on

            name, low, high = plot.parse_range(ranges[0])
            marks = presets_on(result, name, low, high, plot.measure(what))
            plot.scaling_plot(result, path, name, low, high, what, marks=marks)
        else:
            plot.breakdown_plot(result, path, what)
        return self._dumps({"picture": path}) if self.json else f"picture: {path}"

    def _markdown(self, rest: str) -> str:
        markdown = self._count(self._last()).markdown()
        return self._dumps({"markdown": markdown}) if self.json else markdown

    def _solve(self, rest: str) -> str:
        from . import budget

        words = rest.split()
        symbol = words[0] if len(words) == 2 else None
        return self._solution(budget.solve(self._count(self._last()), budget.parse_budget(words[-1]), symbol))

    def _match(self, rest: str) -> str:
        from . import budget

        result = self._count(self._last())
        # The spec to match is counted as the last one is (its own `using` still wins), so
        # that the two differ in size only.
        return self._solution(budget.match(result, self._count(rest, default=result.convention.name)))

    def _solution(self, solution: Solution) -> str:
        from . import render

        return self._dumps(render.solution_dict(solution)) if self.json else render.solution_text(solution)

    def _leading(self, rest: str) -> str:
        from . import budget, render

        spec = self._last()
        result = count(spec, None if parse(spec).convention else self.convention)
        lead = budget.leading(result, rest, self._bindings_for(result.symbols))
        if self.json:
            return self._dumps(render.leading_dict(lead))
        first, _, others = render.leading_text(lead).partition("\n")  # the first line is the spec
        return first + "\n" + in_repl_words(others)

    def _help(self, rest: str) -> str:
        if not rest:
            text = HELP
        else:
            name = rest.removeprefix(":")
            if name not in COMMAND_TABLE:
                raise UnknownNameError(
                    f"no command ':{_shown(name)}'{did_you_mean(':' + name, [':' + c for c in COMMANDS])}",
                    hint="type :help for the commands",
                )
            text = COMMAND_TABLE[name].help()
        return self._dumps({"help": text}) if self.json else text

    def _quit(self, rest: str) -> str:
        self.done = True
        return ""


@dataclass(frozen=True)
class Command:
    """One ``:command``: how it is written, what it does, the :class:`Session` method that
    answers it, and how many words may follow it. A new command is one row of
    :data:`COMMAND_TABLE` and one method; :help and the checks on its words come with it."""

    usage: str  #: as :help shows it, e.g. ":solve [SYMBOL] BUDGET"
    summary: str  #: what it does, in one line
    answer: Callable[[Session, str], str]
    words: tuple[int, int | None] = (0, 0)  #: fewest and most words after it (None: any number)
    takes: str = "nothing"  #: what may follow it, for the error when too much does
    example: str = ""  #: a line that uses it (default: the usage)
    aliases: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return self.usage.split()[0].removeprefix(":")

    def check(self, rest: str) -> None:
        """A :class:`CommandError` if ``rest`` has too few or too many words for the command."""
        fewest, most = self.words
        words = len(rest.split())
        hint = f"write {self.usage}" + (f", e.g. {self.example}" if self.example else "")
        if words < fewest:
            raise CommandError(hint)
        if most is not None and words > most:
            raise CommandError(f":{self.name} takes {self.takes}, not '{_shown(rest)}'", hint=hint)

    def help(self) -> str:
        """The command's usage, what it does, and an example."""
        also = f" (also {', '.join(':' + a for a in self.aliases)})" if self.aliases else ""
        return f"{self.usage}{also}\n  {self.summary}\n  e.g. {self.example or self.usage}"


_COMMANDS = (
    Command(
        ":convention [NAME]",
        f"show or choose the convention ({', '.join(CONVENTIONS)})",
        Session._convention,
        words=(0, 1),
        takes="at most one convention name",
        example=":convention graves2013",
    ),
    Command(
        ":set NAME=VALUE ...",
        "bind symbols for the specs that follow; :set alone lists them",
        Session._set,
        words=(0, None),
        example=":set m=205 n=700",
    ),
    Command(
        ":unset [NAME ...]",
        "unbind symbols (all of them without a name)",
        Session._unset,
        words=(0, None),
        example=":unset n",
    ),
    Command(":explain", "the last spec, term by term", Session._explain),
    Command(
        ":compare [NAMES]",
        "the last spec under several conventions (default: all)",
        Session._compare,
        words=(0, None),
        example=":compare keras,pytorch",
    ),
    Command(
        ":latex [standalone]",
        "the last spec as LaTeX (standalone: a complete document)",
        Session._latex,
        words=(0, 1),
        takes="nothing or 'standalone'",
        example=":latex standalone",
    ),
    Command(":json", "the last spec as one line of JSON", Session._json),
    Command(
        ":flops [macs] [train]",
        "the last spec's forward FLOPs per layer and in total (T, B: bind with :set)",
        Session._flops,
        words=(0, 2),
        example=":flops train",
    ),
    Command(
        ":memory [DTYPE] [OPTIMIZER]",
        "the last spec's bytes: weights, gradients, optimizer states, KV cache",
        Session._memory,
        words=(0, 2),
        takes="a data type and an optimizer",
        example=":memory bf16 adam",
    ),
    Command(
        ":plot FILE [WHAT] [N=A..B]",
        "draw where the last spec's parameters (WHAT: flops, macs, memory) go, or N from A to B",
        Session._plot,
        words=(1, 3),
        takes="a file, a measure and a range",
        example=":plot gpt2.svg flops",
    ),
    Command(
        ":depth [N]",
        "show the insides of blocks N levels deep in tables (0: one row a block)",
        Session._depth,
        words=(0, 1),
        takes="a whole number of levels",
        example=":depth 1",
    ),
    Command(":defs", "the blocks and nets defined in this session", Session._defs),
    Command(":markdown", "the last spec as a Markdown table", Session._markdown),
    Command(
        ":solve [SYMBOL] BUDGET",
        "the largest size of the last spec within BUDGET (19M, 1.5B)",
        Session._solve,
        words=(1, 2),
        takes="a BUDGET, or a SYMBOL and a BUDGET",
        example=":solve h 19M",
    ),
    Command(
        ":match SPEC",
        "the size of the last spec whose count matches SPEC's",
        Session._match,
        words=(1, None),
        example=":match in 205 -> lstm 700 x5 -> dense 205",
    ),
    Command(
        ":leading SYMBOL",
        "the leading-order term of the last spec as SYMBOL grows",
        Session._leading,
        words=(1, 1),
        takes="one symbol",
        example=":leading d",
    ),
    Command(
        ":help [COMMAND]",
        "this text, or one command's",
        Session._help,
        words=(0, 1),
        takes="at most one command name",
        example=":help solve",
    ),
    Command(":quit", "leave (Ctrl-D too)", Session._quit, aliases=("exit", "q")),
)

#: Every command by name and alias.
COMMAND_TABLE: dict[str, Command] = {name: c for c in _COMMANDS for name in (c.name, *c.aliases)}

#: The command names, as completion offers them (aliases are left out).
COMMANDS = [c.name for c in _COMMANDS]


def _help_text() -> str:
    width = max(len(c.usage) for c in _COMMANDS) + 2
    lines = [f"  {c.usage:<{width}}{c.summary}" for c in _COMMANDS]
    return "\n".join(
        [
            "Type a spec to count it, e.g.  in 205 -> lstm 700 x5 -> dense 205",
            "Commands:",
            *lines,
            "Type :help COMMAND for one command and an example.",
        ]
    )


HELP = _help_text()

# The flags of `derive` that the REPL takes; the others are refused, with what to type instead.
_HONOURED = {"spec", "convention", "set", "json", "debug", "depth", "prelude", "scope"}
_INSTEAD = {
    "latex": ":latex after a spec",
    "markdown": ":markdown after a spec",
    "standalone": ":latex standalone after a spec",
    "explain": ":explain after a spec",
    "compare": ":compare [NAMES] after a spec",
    "budget": ":solve [SYMBOL] BUDGET after a spec",
    "match": ":match SPEC after a spec",
    "leading": ":leading SYMBOL after a spec",
    "solve": ":solve SYMBOL BUDGET after a spec",
    "flops": ":flops after a spec",
    "macs": ":flops macs after a spec",
    "train": ":flops train after a spec",
    "memory": ":memory [DTYPE] [OPTIMIZER] after a spec",
    "dtype": ":memory DTYPE after a spec",
    "optimizer": ":memory DTYPE OPTIMIZER after a spec",
    "plot": ":plot FILE after a spec",
    "plot_range": ":plot FILE NAME=A..B after a spec",
}
#: Flags whose option name is not the flag's.
_FLAGS = {"plot_range": "--range"}


def session_from_args(args: argparse.Namespace, parser: argparse.ArgumentParser) -> Session:
    """The session that ``derive repl`` starts with the flags ``args`` parsed by ``parser``:
    ``--convention``, ``--set``, ``--json`` and ``--debug`` apply; any other flag given is a
    :class:`CommandError` that says what to type in the REPL instead."""
    for name, value in vars(args).items():
        if name not in _HONOURED and value != parser.get_default(name):
            flag = _FLAGS.get(name, "--" + name.replace("_", "-"))
            instead = _INSTEAD.get(name)
            hint = f"in the REPL, type {instead}" if instead else "the REPL takes --convention, --set, --json, --debug"
            raise CommandError(f"{flag} does not apply to the REPL", hint=hint)
    return Session(
        convention=args.convention,
        bindings=dict(args.set),
        json=args.json,
        debug=args.debug,
        depth=args.depth,
        scope=getattr(args, "scope", None),
    )


def _only_definitions(text: str, scope: Scope | None) -> bool:
    """Whether ``text`` holds block and net definitions and nothing to count."""
    try:
        parse(text, scope)
    except DeriveError as error:
        return error.message.startswith("the program defines blocks or nets but counts nothing")
    return False


def history_path() -> Path:
    """Where the REPL keeps its history: $DERIVE_HISTORY, else the XDG state directory."""
    if "DERIVE_HISTORY" in os.environ:
        return Path(os.environ["DERIVE_HISTORY"])
    state = os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state"
    return Path(state) / "derive" / "history"


def open_history(stderr: TextIO) -> History:
    """The history to keep: a file (see :func:`history_path`); none for the null device; and a
    history for this session only, with one warning on ``stderr``, where the file cannot be
    used (a directory, a device, an unwritable place, an empty ``$DERIVE_HISTORY``)."""
    from prompt_toolkit.history import FileHistory, InMemoryHistory

    class _FileHistory(FileHistory):
        """prompt_toolkit's file history, which stops (and warns once) on a read or write error."""

        failed = False

        def load_history_strings(self) -> Iterable[str]:
            try:
                return list(super().load_history_strings())
            except OSError as error:
                self._fail(error)
                return []

        def store_string(self, string: str) -> None:
            if self.failed:
                return
            try:
                super().store_string(string)
            except OSError as error:
                self._fail(error)

        def _fail(self, error: OSError) -> None:
            self.failed = True
            _warn(stderr, f"cannot use the history file {path}: {error.strerror or error}")

    if os.environ.get("DERIVE_HISTORY") == "":
        _warn(stderr, "DERIVE_HISTORY is empty")
        return InMemoryHistory()
    path = history_path()
    if str(path) == os.devnull:
        return InMemoryHistory()  # no history, as asked
    if path.exists() and not path.is_file():  # reading a directory fails; a device may never end
        _warn(stderr, f"the history file {path} is {'a directory' if path.is_dir() else 'not a regular file'}")
        return InMemoryHistory()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("ab"):
            pass
    except OSError as error:
        _warn(stderr, f"cannot use the history file {path}: {error.strerror or error}")
        return InMemoryHistory()
    return _FileHistory(str(path))


def _warn(stderr: TextIO, problem: str) -> None:
    stderr.write(f"derive: warning: {problem}; the history of this session will not be kept\n")
    stderr.flush()


def completer(session: Session | None = None) -> Completer:
    """Tab completion of commands, layer kinds, options, conventions, keywords, and the blocks
    and nets the session can call (the prelude's and those typed so far)."""
    from prompt_toolkit.completion import WordCompleter

    fixed = [
        *(f":{c}" for c in COMMANDS),
        *sorted(KIND_NAMES),
        *sorted({name for kind in KINDS.values() for name in kind.options}),
        *SHORTHANDS,
        *sorted(CONVENTION_NAMES),
        *("in", "using", "where", "residual", "block", "net", "none", "single", "double", "true", "false"),
    ]

    def words() -> list[str]:
        return fixed + (session.names() if session is not None else [])

    # prompt_toolkit matches this against the text before the cursor, reversed: a word, then
    # an optional ':' so that commands complete too.
    return WordCompleter(words, pattern=re.compile(r"^[A-Za-z0-9_]*:?"))


def run(
    session: Session | None = None,
    *,
    stdout: TextIO,
    stdin: TextIO | None = None,
    stderr: TextIO | None = None,
    input: Input | None = None,
    output: Output | None = None,
    history: bool = True,
) -> int:
    """Run the REPL until :quit or end of input, and return the exit status.

    On a terminal (or with a prompt_toolkit ``input``), a prompt with line editing, history and
    completion; the status is 0. Otherwise the lines of ``stdin`` are answered in turn, without
    a prompt, and the status is 2 if any line was answered with an error (as ``derive -``).
    """
    session = session or Session()
    stdin = sys.stdin if stdin is None else stdin
    stderr = sys.stderr if stderr is None else stderr
    if input is None and not _is_terminal(stdin):
        return _run_lines(session, stdin, stdout)
    return _run_prompt(session, stdout, stderr, input, output, history)


def _is_terminal(stream: TextIO | None) -> bool:
    try:
        return stream is not None and stream.isatty()
    except ValueError:  # a closed file
        return False


def _run_prompt(
    session: Session, stdout: TextIO, stderr: TextIO, input: Input | None, output: Output | None, keep: bool
) -> int:
    from prompt_toolkit import PromptSession
    from prompt_toolkit.history import InMemoryHistory

    prompt: PromptSession[str] = PromptSession(
        history=open_history(stderr) if keep else InMemoryHistory(),
        completer=completer(session),
        complete_while_typing=False,
        input=input,
        output=output,
    )
    stdout.write("derive: type a spec, or :help\n")
    while not session.done:
        try:
            line = prompt.prompt("derive> ")
        except KeyboardInterrupt:
            continue
        except EOFError:
            break
        try:
            answer = session.handle(line)
        except KeyboardInterrupt:  # Ctrl-C during a long count: back to the prompt, same session
            answer = session.answer_error(CommandError("interrupted"), line) if session.json else "interrupted"
        if answer:
            stdout.write(answer + "\n")
            stdout.flush()
    return 0


def _run_lines(session: Session, stdin: TextIO | None, stdout: TextIO) -> int:
    status = 0
    for number, line in _read_lines(stdin):
        if isinstance(line, UnicodeDecodeError):
            answer = session.answer_error(CommandError(f"line {number} is not valid UTF-8 (at byte {line.start + 1})"))
        else:
            answer = session.handle(line)
        status = 2 if session.failed else status
        if answer:
            stdout.write(answer + "\n")
            stdout.flush()
        if session.done:
            break
    return status


def _read_lines(stdin: TextIO | None) -> Iterator[tuple[int, str | UnicodeDecodeError]]:
    """Each line of ``stdin`` without its line ending (and a UTF-8 byte-order mark before the
    first), or the decoding error of a line that is not UTF-8. Read as bytes where possible,
    so that one bad line does not stop the others."""
    if stdin is None:  # standard input is closed: there is nothing to answer
        return
    raw = getattr(stdin, "buffer", None)
    lines: Iterable[bytes | str] = raw if raw is not None else stdin
    for number, data in enumerate(lines, 1):
        if isinstance(data, bytes):
            data = data.removeprefix(codecs.BOM_UTF8) if number == 1 else data
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError as error:
                yield number, error
                continue
        else:
            text = data.removeprefix("\ufeff") if number == 1 else data
        yield number, text.rstrip("\r\n")
