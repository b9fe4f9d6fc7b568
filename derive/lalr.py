"""A lean loop over the grammar's LALR tables: the parser's successful path, without Lark.

Lark builds the tables from the grammar (``grammar/derive.lark`` stays the one source of the
syntax). :func:`tables` reads them out of a built Lark parser as plain data -- the contextual
lexer's patterns for each parser state, each state's actions, and for each grammar rule its
length and how Lark would shape its children before calling derive's callback (the rule's
child filter: placeholders for absent ``[...]``, inlined ``_rules``; and ``?rule``
inlining). ``python -m derive.lalr`` writes them to ``grammar/derive.tables.json``, which
ships beside the grammar with the grammar's checksum: a text that parses is then read
without importing Lark at all (some 30 ms of a cold start), and if the grammar has changed
since, the tables are read from Lark again.

:class:`Driver` runs the shift-reduce loop over those tables with plain locals, with the
same tokens (Lark's token attributes) and the same callbacks in the same order, so the same
records. It covers what a text that parses needs: a character no terminal matches, or a token
a state does not expect, raises :class:`Unsupported`, and the caller parses the text again
with Lark itself, whose error (or result) is then the answer, so that every error message
comes from one place.
"""

from __future__ import annotations

import json
import re
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["FORMAT", "Driver", "Token", "Tree", "Unsupported", "checksum", "load", "tables"]

#: The layout of the tables file; a file of another layout is not read.
FORMAT = 1


class Unsupported(Exception):
    """The loop cannot go on: parse the text with Lark instead."""


class Token(str):
    """A terminal as matched: its text, with the attributes of Lark's ``Token`` (in slots, as
    Lark keeps them: an instance dictionary would triple a token's size)."""

    __slots__ = ("column", "end_column", "end_line", "end_pos", "line", "start_pos", "type", "value")

    type: str
    value: str
    start_pos: int
    line: int
    column: int
    end_line: int
    end_column: int
    end_pos: int

    def __new__(
        cls, type: str, value: str, start_pos: int, line: int, column: int, end_line: int, end_column: int, end_pos: int
    ) -> Token:
        self = str.__new__(cls, value)
        self.type, self.value, self.start_pos, self.end_pos = type, value, start_pos, end_pos
        self.line, self.column, self.end_line, self.end_column = line, column, end_line, end_column
        return self

    def __reduce__(self) -> tuple[Any, ...]:
        places = (self.start_pos, self.line, self.column, self.end_line, self.end_column, self.end_pos)
        return Token, (self.type, self.value, *places)

    def __repr__(self) -> str:
        return f"Token({self.type!r}, {self.value!r})"


class Tree:
    """What a rule without a callback of its own builds: Lark's helper rules for ``*`` and
    ``+`` (``__program_star_0``), whose children the rule above takes in."""

    __slots__ = ("children", "data")

    def __init__(self, data: str, children: list[Any]) -> None:
        self.data = data
        self.children = children


# A rule's callback, as data (lists, to be JSON):
#   ["method", name]              the transformer's method ``name``
#   ["tree", name]                a Tree (a helper rule)
#   ["single", inner]             Lark's ExpandSingleChild: a lone child is the value
#   ["filter", include, nones, inner]
#                                 Lark's ChildFilterLALR: children i in order, each in
#                                 ``include`` as [i, expand, nones before it] (expand: take in a
#                                 Tree's children), then ``nones`` placeholders
Spec = list[Any]
Callback = Callable[[list[Any]], Any]


def checksum(grammar: str) -> str:
    """The grammar's checksum, recorded in the tables built from it."""
    data = grammar.encode("utf-8")
    return f"{zlib.crc32(data):08x}-{zlib.adler32(data):08x}-{len(data)}"


def tables(lark: Any, start: str, grammar: str) -> dict[str, Any]:
    """The tables of ``lark`` (built with ``parser="lalr"``, a contextual lexer and a
    transformer, so that every rule has a callback) as plain data."""
    from functools import partial

    from lark import Tree as LarkTree
    from lark.parse_tree_builder import ChildFilter, ExpandSingleChild
    from lark.parsers.lalr_analysis import Shift

    try:
        frontend = lark.parser
        lalr = frontend.parser.parser
        table = lalr.parse_table
        lexers = frontend.lexer.lexers
        ignore = sorted(frontend.lexer_conf.ignore)
        transformer = lark.options.transformer
    except AttributeError as error:  # another Lark: its own loop will do
        raise Unsupported(str(error)) from None

    def spec(callback: Any, rule: Any) -> Spec:
        if isinstance(callback, ChildFilter):
            include = [[entry[0], bool(entry[1]), entry[2] if len(entry) > 2 else 0] for entry in callback.to_include]
            nones = getattr(callback, "append_none", 0) or 0
            return ["filter", include, nones, spec(callback.node_builder, rule)]
        if isinstance(callback, ExpandSingleChild):
            return ["single", spec(callback.node_builder, rule)]
        if isinstance(callback, partial) and callback.func is LarkTree and len(callback.args) == 1:
            return ["tree", callback.args[0]]
        name = rule.alias or rule.options.template_source or rule.origin.name
        if getattr(callback, "__self__", None) is transformer and getattr(transformer, name, None) == callback:
            return ["method", name]
        raise Unsupported(f"the callback of {rule}")

    rules: list[list[Any]] = []
    numbers: dict[Any, int] = {}
    actions: dict[str, dict[str, list[Any]]] = {}
    for state, entries in table.states.items():
        mine: dict[str, list[Any]] = {}
        for symbol, (action, arg) in entries.items():
            if action is Shift:
                mine[symbol] = [True, arg]
                continue
            if arg not in numbers:
                numbers[arg] = len(rules)
                rules.append([len(arg.expansion), arg.origin.name, spec(lalr.callbacks[arg], arg)])
            mine[symbol] = [False, numbers[arg]]
        actions[str(state)] = mine

    scanners: list[list[list[Any]]] = []
    found: dict[int, int] = {}
    state_scanner: dict[str, int] = {}
    for state, lexer in lexers.items():
        if id(lexer) not in found:
            try:
                patterns = lexer.scanner._mres
                callbacks = lexer.callback
            except AttributeError as error:  # another Lark
                raise Unsupported(str(error)) from None
            if callbacks:  # terminals that Lark re-types after matching them
                raise Unsupported("lexer callbacks")
            if not all(isinstance(pattern, re.Pattern) for pattern in patterns):
                raise Unsupported("patterns for another regular expression module")
            found[id(lexer)] = len(scanners)
            scanners.append([[pattern.pattern, pattern.flags] for pattern in patterns])
        state_scanner[str(state)] = found[id(lexer)]

    return {
        "format": FORMAT,
        "grammar": checksum(grammar),
        "start": table.start_states[start],
        "end": table.end_states[start],
        "ignore": ignore,
        "scanners": scanners,
        "state_scanner": state_scanner,
        "actions": actions,
        "rules": rules,
    }


def load(path: Path, grammar: str) -> dict[str, Any] | None:
    """The tables in ``path`` if they were built from ``grammar`` by this layout, else ``None``."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("format") != FORMAT or data.get("grammar") != checksum(grammar):
        return None
    return data


def _callback(spec: Spec, transformer: Any) -> Callback:
    what = spec[0]
    if what == "method":
        method: Callback = getattr(transformer, spec[1])
        return method
    if what == "tree":
        name = spec[1]
        return lambda children: Tree(name, children)
    if what == "single":
        inner = _callback(spec[1], transformer)
        return lambda children: children[0] if len(children) == 1 else inner(children)
    if what == "filter":
        # A list that a left-recursive rule grows (``element (ARROW element)*``) holds, between
        # its items, the tokens that separate them: callbacks read items, and a rule's place from
        # its first and last child, never from a separator inside a list. Those tokens are
        # dropped (None in their place) as the list grows, or a chain of 10,000 layers would
        # hold 10,000 arrows until its last layer is read.
        listing = spec[3][0] == "tree"
        last = spec[1][-1][0] if spec[1] else -1
        include = tuple((i, expand, nones, listing and i != last) for i, expand, nones in spec[1])
        appended, inner = spec[2], _callback(spec[3], transformer)

        def filtered(children: list[Any]) -> Any:
            kept: list[Any] = []
            for i, expand, nones, inside in include:
                if nones:
                    kept += [None] * nones
                if expand:
                    if kept:
                        kept += children[i].children
                    else:  # the list a left-recursive rule grows: taken over, not copied (as Lark does)
                        kept = children[i].children
                elif inside and kept and type(children[i]) is Token:
                    kept.append(None)
                else:
                    kept.append(children[i])
            if appended:
                kept += [None] * appended
            return inner(kept)

        return filtered
    raise Unsupported(f"a callback of the kind {what!r}")


# An action: (True, next state) to shift; (False, (length, callback, rule's name)) to reduce,
# where the callback is None for a rule of one child whose value is that child.
Action = tuple[bool, Any]


class Driver:
    """The LALR parse of one grammar, over :func:`tables`, calling ``transformer``'s methods."""

    def __init__(self, data: dict[str, Any], transformer: Any) -> None:
        try:
            reduce = [
                (False, (size, None if size == 1 and spec[0] == "single" else _callback(spec, transformer), origin))
                for size, origin, spec in data["rules"]
            ]
            by_state = {
                int(state): {symbol: (True, arg) if shift else reduce[arg] for symbol, (shift, arg) in entries.items()}
                for state, entries in data["actions"].items()
            }
            # A list indexed by state: the loop looks a state up at every step.
            self._actions: list[dict[str, Action]] = [by_state.get(n, {}) for n in range(max(by_state) + 1)]
            self._sources: list[list[list[Any]]] = data["scanners"]
            self._state_scanner = {int(state): index for state, index in data["state_scanner"].items()}
            self._ignore = frozenset(data["ignore"])
            self._start: int = data["start"]
            self._end: int = data["end"]
        except (AttributeError, KeyError, TypeError, ValueError, IndexError) as error:
            raise Unsupported(f"tables of another layout: {error!r}") from None
        self._compiled: dict[int, tuple[re.Pattern[str], ...]] = {}
        self._scanners: list[tuple[re.Pattern[str], ...] | None] = [None] * len(self._actions)
        self._chains: dict[tuple[int, int, str | None], int] = {}

    def _scanner(self, state: int) -> tuple[re.Pattern[str], ...]:
        """The patterns of the terminals the parser accepts in ``state`` (compiled on first use,
        as Lark's contextual lexer compiles them)."""
        try:
            index = self._state_scanner[state]
        except KeyError:
            raise Unsupported("a state without a lexer") from None
        found = self._compiled.get(index)
        if found is None:
            found = self._compiled[index] = tuple(re.compile(source, flags) for source, flags in self._sources[index])
        self._scanners[state] = found
        return found

    def parse(self, text: str) -> Any:
        """The value the start rule's callback returns for ``text``."""
        actions, scanners, scanner, ignore = self._actions, self._scanners, self._scanner, self._ignore
        chains, final = self._chains, self._end
        new_token: Callable[..., Token] = Token
        states = [self._start]
        values: list[Any] = []
        pos, line, line_start, n = 0, 1, 0, len(text)
        while True:
            if pos < n:
                match = None
                state = states[-1]
                for pattern in scanners[state] or scanner(state):
                    match = pattern.match(text, pos)
                    if match is not None:
                        break
                if match is None:
                    raise Unsupported("no terminal matches")
                kind, value, end = match.lastgroup, match[0], match.end()
                newlines = value.count("\n")
                if kind in ignore:
                    if newlines:
                        line += newlines
                        line_start = pos + value.rindex("\n") + 1
                    pos = end
                    continue
                column = pos - line_start + 1
                if newlines:
                    end_line, end_start = line + newlines, pos + value.rindex("\n") + 1
                else:
                    end_line, end_start = line, line_start
                token: Token | None = new_token(kind, value, pos, line, column, end_line, end - end_start + 1, end)
                line, line_start, pos = end_line, end_start, end
            else:
                kind, token = "$END", None
            while True:
                try:
                    shift, arg = actions[states[-1]][kind]  # type: ignore[index]
                except KeyError:
                    raise Unsupported("unexpected token") from None
                if shift:
                    if token is None:
                        raise Unsupported("the end of the text shifted")
                    states.append(arg)
                    values.append(token)
                    break
                size, callback, origin = arg
                if callback is None:  # a ?rule of one child (Lark's ExpandSingleChild): the child
                    # stays on the stack and only the state on top changes, through every such
                    # rule in a row (``atom`` to ``product`` to ``sum``), in one step
                    key = (states[-2], states[-1], kind)
                    goto = chains.get(key)
                    if goto is None:
                        goto = chains[key] = self._chain(states[-2], origin, kind)
                    states[-1] = goto
                    if token is None and goto == final:
                        return values[-1]
                    continue
                if size:
                    children = values[-size:]
                    del states[-size:]
                    del values[-size:]
                else:
                    children = []
                value = callback(children)
                goto = actions[states[-1]][origin][1]
                states.append(goto)
                values.append(value)
                if token is None and goto == final:
                    return value

    def _chain(self, below: int, origin: str, kind: str | None) -> int:
        """The state on top of ``below`` once ``kind`` has reduced every ``?rule`` of one child
        in a row, the first of them ``origin``."""
        top: int = self._actions[below][origin][1]
        while top != self._end or kind != "$END":
            action = self._actions[top].get(kind)  # type: ignore[arg-type]  # lastgroup: a terminal's name
            if action is None or action[0] or action[1][1] is not None:  # no action, a shift, a callback
                break
            top = self._actions[below][action[1][2]][1]
        return top


def main() -> int:
    """``python -m derive.lalr [PATH]``: write the tables of ``grammar/derive.lark`` (by default
    to ``grammar/derive.tables.json``, where derive reads them)."""
    import importlib
    import sys

    parse = importlib.import_module("derive.parse")
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else parse.tables_path()
    data = tables(parse.parser(), "program", parse.grammar_text())
    target.write_text(dump(data), encoding="utf-8")
    print(f"wrote {target}: {len(data['actions'])} states, {len(data['rules'])} rules")
    return 0


def dump(data: dict[str, Any]) -> str:
    """The tables as the file holds them: JSON, a state or a rule a line."""
    lines = []
    for key, value in data.items():
        if key == "actions":
            body = ",\n".join(f"  {json.dumps(k)}: {json.dumps(v)}" for k, v in value.items())
            lines.append(f"{json.dumps(key)}: {{\n{body}\n}}")
        elif key == "rules":
            body = ",\n".join(f"  {json.dumps(v)}" for v in value)
            lines.append(f"{json.dumps(key)}: [\n{body}\n]")
        else:
            lines.append(f"{json.dumps(key)}: {json.dumps(value)}")
    return "{\n" + ",\n".join(lines) + "\n}\n"


if __name__ == "__main__":
    raise SystemExit(main())
