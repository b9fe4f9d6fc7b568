"""A lean loop over Lark's LALR tables: the parser's successful path, without Lark's generic one.

Lark builds the tables from the grammar (``grammar/derive.lark`` stays the one source of the
syntax) and calls derive's callbacks as it reduces; its general loop then pays, per token, for
a :class:`lark.lexer.LexerState`, a line counter, a :class:`~lark.parsers.lalr_parser_state.ParserState`
and a dictionary lookup hashing each grammar rule. This module reads the same tables once --
the contextual lexer's scanner for each parser state, each state's actions, each rule's
callback and length -- and runs the same shift-reduce loop over them with plain locals: the
same tokens, the same callbacks in the same order, so the same records.

It covers what a text that parses needs. Anything else -- a character no terminal matches, a
token the state does not expect, a Lark whose insides are not the ones read here -- raises
:class:`Unsupported`, and the caller parses the text again with Lark itself, whose error (or
result) is then the answer: every error message comes from one place.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from lark import Lark, Token
from lark.parsers.lalr_analysis import Shift

__all__ = ["Driver", "Unsupported"]


class Unsupported(Exception):
    """The loop cannot go on: parse the text with Lark instead."""


# An action: (True, next state) to shift; (False, (length, callback, rule's name)) to reduce.
Action = tuple[bool, Any]


class Driver:
    """The LALR parse of one grammar, built from a Lark parser made with ``parser="lalr"``, a
    contextual lexer and a transformer (so that every rule has a callback)."""

    def __init__(self, lark: Lark, start: str) -> None:
        try:
            frontend: Any = lark.parser
            lalr: Any = frontend.parser.parser
            table = lalr.parse_table
            self._lexers: dict[int, Any] = frontend.lexer.lexers
            self._ignore = frozenset(frontend.lexer_conf.ignore)
            self._start: int = table.start_states[start]
            self._end: int = table.end_states[start]
            callbacks = lalr.callbacks
        except AttributeError as error:  # another Lark: its own loop will do
            raise Unsupported(str(error)) from None
        if any(isinstance(name, str) for name in callbacks):
            raise Unsupported("callbacks on terminals")
        reduce: dict[Any, Action] = {}
        self._actions: dict[int, dict[str, Action]] = {}
        for state, actions in table.states.items():
            mine: dict[str, Action] = {}
            for symbol, (action, arg) in actions.items():
                if action is Shift:
                    mine[symbol] = (True, arg)
                else:
                    if arg not in reduce:
                        reduce[arg] = (False, (len(arg.expansion), callbacks[arg], arg.origin.name))
                    mine[symbol] = reduce[arg]
            self._actions[state] = mine
        self._scanners: dict[int, tuple[re.Pattern[str], ...]] = {}

    def _scanner(self, state: int) -> tuple[re.Pattern[str], ...]:
        """The patterns of the terminals the parser accepts in ``state`` (built on first use,
        as Lark's contextual lexer builds them)."""
        found = self._scanners.get(state)
        if found is None:
            try:
                lexer = self._lexers[state]
                patterns = tuple(lexer.scanner._mres)
                callbacks = lexer.callback
            except (AttributeError, KeyError) as error:  # another Lark
                raise Unsupported(str(error)) from None
            if callbacks:  # terminals that Lark re-types after matching them
                raise Unsupported("lexer callbacks")
            found = self._scanners[state] = patterns
        return found

    def parse(self, text: str) -> Any:
        """The value the start rule's callback returns for ``text``."""
        actions, scanners, scanner, ignore = self._actions, self._scanners, self._scanner, self._ignore
        new_token: Callable[..., Token] = Token
        states = [self._start]
        values: list[Any] = []
        pos, line, line_start, n = 0, 1, 0, len(text)
        while True:
            if pos < n:
                match = None
                state = states[-1]
                for pattern in scanners.get(state) or scanner(state):
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
                if size:
                    children = values[-size:]
                    del states[-size:]
                    del values[-size:]
                else:
                    children = []
                value = callback(children)
                _, goto = actions[states[-1]][origin]
                states.append(goto)
                values.append(value)
                if token is None and goto == self._end:
                    return value
