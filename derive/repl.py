"""REPL: an interactive prompt over the public API.

:class:`Session` holds the state (convention, bound symbols, the last spec) and answers one
line at a time with the text to print, so it is tested without a terminal. :func:`run` puts
prompt_toolkit around it: line editing, persistent history, tab completion. prompt_toolkit is
imported only here, so the one-shot CLI does not pay for it.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import sympy as sp

from .api import Result, count
from .compare import compare
from .conventions import CONVENTION_NAMES, CONVENTIONS, convention
from .errors import DeriveError, UnknownNameError, did_you_mean
from .kinds import KIND_NAMES, KINDS, SHORTHANDS
from .parse import parse

if TYPE_CHECKING:
    from prompt_toolkit.completion import Completer
    from prompt_toolkit.input import Input
    from prompt_toolkit.output import Output

HELP = (
    """\
Type a spec to count it, e.g.  in 205 -> lstm 700 x5 -> dense 205
Commands:
  :convention [NAME]   show or choose the convention ("""
    + ", ".join(CONVENTIONS)
    + """)
  :set NAME=VALUE ...  bind symbols for the specs that follow; :set alone lists them
  :unset [NAME ...]    unbind symbols (all of them without a name)
  :explain             the last spec, term by term
  :compare [NAMES]     the last spec under several conventions (default: all), comma-separated
  :latex  :json  :markdown   the last spec in that form
  :solve [SYMBOL] BUDGET      the largest size of the last spec within BUDGET (19M, 1.5B)
  :match SPEC          the size of the last spec whose count matches SPEC's
  :leading SYMBOL      the leading-order term of the last spec as SYMBOL grows
  :help                this text
  :quit                leave (Ctrl-D too)"""
)

_BINDING = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)=([0-9](?:_?[0-9])*)\Z")


class CommandError(DeriveError, ValueError):
    """A REPL command that cannot be carried out."""


@dataclass
class Session:
    """The REPL's state, and :meth:`handle` to answer one line."""

    convention: str | None = None
    bindings: dict[str, int] = field(default_factory=dict)
    last: str | None = None
    done: bool = False

    def __post_init__(self) -> None:
        if self.convention is not None:
            self.convention = convention(self.convention).name

    def handle(self, line: str) -> str:
        """The text to print in answer to ``line`` (a spec or a ``:command``)."""
        text = line.strip()
        if not text or text.startswith("#"):
            return ""
        try:
            if text.startswith(":"):
                name, _, rest = text[1:].partition(" ")
                return self._command(name, rest.strip())
            result = self._count(text)
            self.last = text
            return result.text()
        except DeriveError as error:
            return error.render()

    def _count(self, spec: str) -> Result:
        # The session's convention is a default: a spec's own `using` wins over it.
        result = count(spec, None if parse(spec).convention else self.convention)
        bound = self._bindings_for(result.symbols)
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
        commands: dict[str, Callable[[str], str]] = {
            "convention": self._convention,
            "set": self._set,
            "unset": self._unset,
            "explain": lambda _: self._count(self._last()).explain(),
            "compare": self._compare,
            "latex": lambda _: self._count(self._last()).latex(),
            "json": lambda _: json.dumps(self._count(self._last()).as_dict(), ensure_ascii=False),
            "markdown": lambda _: self._count(self._last()).markdown(),
            "solve": self._solve,
            "match": self._match,
            "leading": self._leading,
            "help": lambda _: HELP,
            "quit": self._quit,
            "exit": self._quit,
            "q": self._quit,
        }
        if name not in commands:
            raise UnknownNameError(
                f"unknown command ':{name}'{did_you_mean(':' + name, [':' + c for c in COMMANDS])}",
                hint="type :help for the commands",
            )
        return commands[name](rest)

    def _convention(self, rest: str) -> str:
        if rest:
            self.convention = convention(rest).name
        chosen = convention(self.convention)
        return f"convention: {chosen.name} ({chosen.title})"

    def _set(self, rest: str) -> str:
        for word in rest.split():
            match = _BINDING.match(word)
            if not match or int(match[2]) < 1:
                raise CommandError(f"expected NAME=VALUE with a positive whole number, not '{word}'")
        for word in rest.split():
            name, value = word.split("=")
            self.bindings[name] = int(value)
        return self._bound()

    def _unset(self, rest: str) -> str:
        for name in rest.split() or list(self.bindings):
            if name not in self.bindings:
                raise CommandError(f"'{name}' is not bound{did_you_mean(name, self.bindings)}")
            del self.bindings[name]
        return self._bound()

    def _bound(self) -> str:
        return "bound: " + (", ".join(f"{k}={v}" for k, v in self.bindings.items()) or "nothing")

    def _compare(self, rest: str) -> str:
        names = [n.strip() for n in rest.replace(",", " ").split()] or None
        spec = self._last()
        return compare(spec, names, self._bindings_for(parse(spec).symbols)).text()

    def _solve(self, rest: str) -> str:
        from . import budget, render

        words = rest.split()
        if len(words) not in (1, 2):
            raise CommandError("write :solve BUDGET or :solve SYMBOL BUDGET, e.g. :solve h 19M")
        symbol = words[0] if len(words) == 2 else None
        return render.solution_text(budget.solve(self._count(self._last()), budget.parse_budget(words[-1]), symbol))

    def _match(self, rest: str) -> str:
        from . import budget, render

        if not rest:
            raise CommandError("write :match SPEC, e.g. :match in 205 -> lstm 700 x5 -> dense 205")
        return render.solution_text(budget.match(self._count(self._last()), self._count(rest)))

    def _leading(self, rest: str) -> str:
        from . import budget, render

        if len(rest.split()) != 1:
            raise CommandError("write :leading SYMBOL, e.g. :leading d")
        spec = self._last()
        result = count(spec, None if parse(spec).convention else self.convention)
        return render.leading_text(budget.leading(result, rest.strip(), self.bindings))

    def _quit(self, rest: str) -> str:
        self.done = True
        return ""


COMMANDS = [
    "convention",
    "set",
    "unset",
    "explain",
    "compare",
    "latex",
    "json",
    "markdown",
    "solve",
    "match",
    "leading",
    "help",
    "quit",
]


def history_path() -> Path:
    """Where the REPL keeps its history: $DERIVE_HISTORY, else the XDG state directory."""
    if "DERIVE_HISTORY" in os.environ:
        return Path(os.environ["DERIVE_HISTORY"])
    state = os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state"
    return Path(state) / "derive" / "history"


def completer() -> Completer:
    """Tab completion of commands, layer kinds, options, conventions and keywords."""
    from prompt_toolkit.completion import WordCompleter

    words = [
        *(f":{c}" for c in COMMANDS),
        *sorted(KIND_NAMES),
        *sorted({name for kind in KINDS.values() for name in kind.options}),
        *SHORTHANDS,
        *sorted(CONVENTION_NAMES),
        *("in", "using", "none", "single", "double", "true", "false"),
    ]
    # prompt_toolkit matches this against the text before the cursor, reversed: a word, then
    # an optional ':' so that commands complete too.
    return WordCompleter(words, pattern=re.compile(r"^[A-Za-z0-9_]*:?"))


def run(
    session: Session | None = None,
    *,
    stdout: TextIO,
    input: Input | None = None,
    output: Output | None = None,
    history: bool = True,
) -> int:
    """Run the REPL until :quit or end of input; return the exit status (0)."""
    from prompt_toolkit import PromptSession
    from prompt_toolkit.history import FileHistory, History, InMemoryHistory

    session = session or Session()
    store: History = InMemoryHistory()
    if history:
        path = history_path()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch()
            store = FileHistory(str(path))
        except OSError:
            pass  # an unwritable home: history lasts for this session only
    prompt: PromptSession[str] = PromptSession(
        history=store, completer=completer(), complete_while_typing=False, input=input, output=output
    )
    stdout.write("derive: type a spec, or :help\n")
    while not session.done:
        try:
            line = prompt.prompt("derive> ")
        except KeyboardInterrupt:
            continue
        except EOFError:
            break
        answer = session.handle(line)
        if answer:
            stdout.write(answer + "\n")
            stdout.flush()
    return 0
