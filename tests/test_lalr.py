"""derive.lalr: the lean loop over the grammar's tables builds the records Lark's own loop builds.

Every text is parsed both ways and the records compared, tokens with their places (offsets,
lines, columns): by the loop over the tables file that ships beside the grammar, by the loop
over tables read from Lark in this process, and by Lark. A text the loop cannot take is handed
to Lark, whose error stands.
"""

from __future__ import annotations

import importlib
import json
import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any

import lark
import pytest
from lark import UnexpectedInput

from conftest import ROOT
from derive import lalr
from derive.errors import DeriveError
from derive.lalr import Driver, Unsupported

parse = importlib.import_module("derive.parse")  # the module, not derive.parse the function


def _plain(value: Any) -> Any:
    """A record as plain data: tokens with every place Lark gives them."""
    if isinstance(value, lark.Token | lalr.Token):
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


def _from_lark() -> Driver:
    """The loop over tables read from the Lark installed (which has the insides read)."""
    return Driver(lalr.tables(parse.parser(), "program", parse.grammar_text()), parse._Build())


@pytest.mark.parametrize("text", _texts())
def test_the_loop_builds_what_lark_builds(text: str) -> None:
    driver = parse._driver()
    assert driver is not None
    expected = _outcome(parse.parser().parse, text)
    assert _outcome(driver.parse, text) == expected
    assert _outcome(_from_lark().parse, text) == expected


def test_the_tables_file_was_built_from_the_grammar() -> None:
    # After an edit of grammar/derive.lark, run `python -m derive.lalr` to write them again.
    data = lalr.load(parse.tables_path(), parse.grammar_text())
    assert data is not None, "grammar/derive.tables.json is stale: run python -m derive.lalr"
    assert data["grammar"] == lalr.checksum(parse.grammar_text())


def test_tables_built_from_another_grammar_are_not_read(tmp_path: Path) -> None:
    data = json.loads(parse.tables_path().read_text(encoding="utf-8"))
    path = tmp_path / "tables.json"
    path.write_text(lalr.dump(data), encoding="utf-8")
    assert lalr.load(path, parse.grammar_text()) == data
    assert lalr.load(path, parse.grammar_text() + "\n// an edit\n") is None
    path.write_text(lalr.dump({**data, "format": lalr.FORMAT + 1}), encoding="utf-8")
    assert lalr.load(path, parse.grammar_text()) is None
    path.write_text("{not json", encoding="utf-8")
    assert lalr.load(path, parse.grammar_text()) is None
    assert lalr.load(tmp_path / "missing.json", parse.grammar_text()) is None


def test_the_tables_are_written_by_the_module(tmp_path: Path) -> None:
    target = tmp_path / "tables.json"
    done = subprocess.run(
        [sys.executable, "-m", "derive.lalr", str(target)], capture_output=True, text=True, check=True, timeout=120
    )
    assert done.stdout.startswith(f"wrote {target}")
    data = lalr.load(target, parse.grammar_text())
    assert data is not None
    text = "in 224x224x3 -> conv 64 (k=7, stride=2) -> [dense 4 -> relu] x3 using pytorch where T=5"
    assert _plain(Driver(data, parse._Build()).parse(text)) == _plain(parse.parser().parse(text))


def test_a_successful_parse_does_not_import_lark() -> None:
    code = (
        "import sys, derive\n"
        "assert int(derive.count('in 205 -> lstm 700 x5 -> dense 205')) == 18371705\n"
        "assert 'lark' not in sys.modules, sorted(m for m in sys.modules if m.startswith('lark'))\n"
        "try:\n"
        "    derive.count('in 205 -> lstm 700 ->')\n"
        "except derive.DeriveError as error:\n"
        "    assert 'expected a layer kind' in str(error), str(error)\n"
        "assert 'lark' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_tokens_keep_their_places_through_pickle() -> None:
    token = lalr.Token("INT", "205", 3, 1, 4, 1, 7, 6)
    again = pickle.loads(pickle.dumps(token))
    assert (again, again.type, again.start_pos, again.end_pos, again.line, again.column) == ("205", "INT", 3, 6, 1, 4)
    assert (again.end_line, again.end_column, type(again)) == (1, 7, lalr.Token)


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
        lalr.tables(Other(), "program", parse.grammar_text())
    with pytest.raises(Unsupported):
        Driver({"rules": [[1, "program", ["no such callback"]]]}, parse._Build())
    monkeypatch.setattr(parse, "_driver", lambda: None)
    import derive

    assert int(derive.count("in 205 -> lstm 700 x5 -> dense 205")) == 18_371_705


def test_the_grammar_file_is_what_the_tables_come_from() -> None:
    # One source of the syntax: the loop reads the tables Lark built from grammar/derive.lark.
    assert Path(ROOT / "grammar" / "derive.lark").read_text(encoding="utf-8") == parse.grammar_text()


def test_a_long_list_lets_its_separators_go() -> None:
    # The arrows between a part's layers are not kept until the part is read (a chain of
    # 10,000 layers held 10,000 tokens): the loop hands None in their place, while the first
    # arrow, which a rule's place could start from, stays a token.
    seen: list[list[Any]] = []

    class Spy(parse._Build):
        def part(self, children: list[Any]) -> Any:
            seen.append(list(children))
            return super().part(children)

    data = lalr.load(parse.tables_path(), parse.grammar_text())
    assert data is not None
    value = Driver(data, Spy()).parse("in 8 -> dense 8 -> relu -> dense 4 as f")
    rest = seen[0][-6:]
    assert [type(c).__name__ for c in rest] == ["Token", "_P", "NoneType", "_P", "NoneType", "_P"]
    assert str(rest[0]) == "->"
    assert _plain(value) == _plain(parse.parser().parse("in 8 -> dense 8 -> relu -> dense 4 as f"))
