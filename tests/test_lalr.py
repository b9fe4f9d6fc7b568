"""derive.lalr: the lean loop over Lark's tables builds the records Lark's own loop builds.

Every text is parsed both ways and the records compared, tokens with their places (offsets,
lines, columns); a text the loop cannot take is handed to Lark, whose error stands.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import pytest
from lark import Token, UnexpectedInput

from conftest import ROOT
from derive.errors import DeriveError
from derive.lalr import Driver, Unsupported

parse = importlib.import_module("derive.parse")  # the module, not derive.parse the function


def _plain(value: Any) -> Any:
    """A record as plain data: tokens with every place Lark gives them."""
    if isinstance(value, Token):
        places = (value.start_pos, value.end_pos, value.line, value.column, value.end_line, value.end_column)
        return ("token", value.type, str(value), places)
    if isinstance(value, parse._P):
        return ("rule", _plain(value.value), value.span)
    if isinstance(value, tuple | list):
        return type(value).__name__, tuple(_plain(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _plain(v)) for k, v in value.items()))
    return value


def _texts() -> list[str]:
    found = [text[start:end] for text in [parse.prelude_text()] for start, end in parse._statements(text)]
    for table in (
        ROOT / "tests" / "published.tsv",
        ROOT / "tests" / "networks.tsv",
        ROOT / "docs" / "examples" / "models.tsv",
    ):
        for line in table.read_text(encoding="utf-8").splitlines():
            spec = line.split("\t")[0]
            if spec and not spec.startswith("#") and spec != "spec":
                found.append(spec)
    found += (ROOT / "docs" / "examples" / "specs.txt").read_text(encoding="utf-8").splitlines()
    found += [
        "in 205 -> lstm 700 x5 -> dense 205",
        "# a comment\nin 3\n  -> lstm 2   # the cell\n  -> dense 2 ; in 4 -> gru 3\r\n",
        "encoder: in 71 -> lstm 256 ;\n\ndecoder: in 93 -> lstm 256 -> dense 93 using keras where T=5",
        "block b d (ff=4*d) = residual [dense ff -> relu -> dense d] ; in 8 -> b 8 (ff=2*8) x3",
        "in 224x224x3 -> conv 64 (k=7, stride=2, pad=3) -> concat { id | conv 32 (k=1x7) } -> globalpool",
        "in (a + b)*2 - c/4 -> dense -d + (e)",
        "in 3 -> dense " + "9" * 1001,  # a fault found while building: a number too long
        "in 3 -> dense 4/0",  # and a division by zero
    ]
    return [text for text in found if text.strip()]


def _outcome(read: Any, text: str) -> Any:
    """The records of ``text``, or what stopped the reading: a syntax error, or a fault found
    while building (a number too long)."""
    try:
        return _plain(read(text))
    except (UnexpectedInput, Unsupported):
        return "syntax error"
    except DeriveError as error:
        return ("fault", error.message)


@pytest.mark.parametrize("text", _texts())
def test_the_loop_builds_what_lark_builds(text: str) -> None:
    driver = parse._driver()
    assert driver is not None  # the Lark installed has the insides the loop reads
    assert _outcome(driver.parse, text) == _outcome(parse.parser().parse, text)


@pytest.mark.parametrize(
    "text",
    ["in 3 -> lstm 2 ->", "in 3 -> @", "in 3 -> lstm 2 (", "", "in 3 -> [dense 2", "in 3 -> dense 2 | relu"],
)
def test_a_text_the_loop_cannot_take_goes_to_lark(text: str) -> None:
    driver = parse._driver()
    assert driver is not None
    with pytest.raises(Unsupported):
        driver.parse(text)
    with pytest.raises(UnexpectedInput):
        parse.parser().parse(text)


def test_another_lark_is_parsed_by_lark_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    class Other:
        parser = None  # no frontend: not the Lark the loop reads

    with pytest.raises(Unsupported):
        Driver(Other(), "program")  # type: ignore[arg-type]
    monkeypatch.setattr(parse, "_driver", lambda: None)
    import derive

    assert int(derive.count("in 205 -> lstm 700 x5 -> dense 205")) == 18_371_705


def test_the_grammar_file_is_what_the_tables_come_from() -> None:
    # One source of the syntax: the loop reads the tables Lark built from grammar/derive.lark.
    assert Path(ROOT / "grammar" / "derive.lark").read_text(encoding="utf-8") == parse.grammar_text()
