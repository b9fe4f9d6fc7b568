"""Where each part of a program was written: the spans that carets point at.

The parser builds its records while it reads, with no parse tree in between; these tests hold
its spans to Lark's own position propagation over a parse tree of the same grammar.
"""

from __future__ import annotations

from collections.abc import Iterator

import lark
import pytest

from derive.errors import InvalidSizeError, Span, SpecSyntaxError
from derive.model import Branch, Call, Group, Layer, Node, Part
from derive.parse import grammar_text, parse

PROGRAMS = [
    "in 205 -> lstm 700 x5 -> dense 205",
    "a: in 3 x 4 -> dense (4*d) (bias=none) x2 as f -> [relu -> dropout] x 3 -> residual [dense 4 -> relu] "
    "-> add {dense 2 | dense 2 -> relu} ; in 2 -> dense (h+1)/2 where d = 2, h = 3",
    "# a comment\n  in (2 + 3)  # another\n -> lstm 7 (peephole) ->\n   dense -(-4) using keras",
    "in 8 -> concat { dense 2 -> relu | dense 3 } x2 -> dense x1",
    "block b w (k=2, j) = dense w/2 -> dense (w+1)*2 ; in 3 -> b 4 (j=2) x2 -> [ b 8 (j=1) ]",
    "in 32x32x3 -> conv 16 (k=1x7, stride=2x2) -> conv 8 (k=3) -> dense 10",
]


def _tree(text: str) -> lark.Tree[lark.Token]:
    oracle = lark.Lark(
        grammar_text(), parser="lalr", start="program", propagate_positions=True, maybe_placeholders=True
    )
    return oracle.parse(text)


def _nodes(chain: tuple[Node, ...]) -> Iterator[Node]:
    """Every node in reading order."""
    for node in chain:
        yield node
        if isinstance(node, Group):
            yield from _nodes(node.chain)
        elif isinstance(node, Branch):
            for branch in node.branches:
                yield from _nodes(branch)


def _bodies(text: str) -> Iterator[Node]:
    program = parse(text)
    for definition in program.definitions:
        yield from _nodes(getattr(definition, "body", ()))
    for part in program.parts:
        assert isinstance(part, Part)
        yield from _nodes(part.chain)


@pytest.mark.parametrize("text", PROGRAMS)
def test_every_node_spans_what_lark_says(text: str) -> None:
    expected = [(t.meta.start_pos, t.meta.end_pos) for t in _tree(text).iter_subtrees_topdown() if t.data == "element"]
    found = [(n.spans["node"].start, n.spans["node"].end) for n in _bodies(text)]
    assert found == expected


@pytest.mark.parametrize("text", PROGRAMS)
def test_sizes_and_parts_span_what_lark_says(text: str) -> None:
    tree = _tree(text)
    sizes = sorted((t.meta.start_pos, t.meta.end_pos, t.meta.line, t.meta.column) for t in tree.find_data("bare_size"))
    written = [n.spans["size"] for n in _bodies(text) if isinstance(n, (Layer, Call)) and "size" in n.spans]
    # Sizes right after the kind (not `dense (4*d)`, nor `dense x1` where x1 is a symbol).
    bare = sorted(
        (s.start, s.end, s.line, s.column) for s in written if text[s.start] != "(" and text[s.start - 1] not in "x("
    )
    assert bare == sizes
    parts = [(t.meta.start_pos, t.meta.end_pos) for t in tree.find_data("part")]
    assert [(p.spans["part"].start, p.spans["part"].end) for p in parse(text).parts] == parts


def test_a_size_in_parentheses_spans_them() -> None:
    text = "in (2 + 3) -> dense 4 -> dense (h+1)/2 where h = 3"
    part = parse(text).parts[0]
    assert text[part.spans["input"].start : part.spans["input"].end] == "(2 + 3)"
    continued = part.chain[1].spans
    assert [text[continued[k].start : continued[k].end] for k in ("node", "size")] == ["dense (h+1)/2", "(h+1)/2"]


def test_a_syntax_error_is_reported_before_a_fault_found_while_reading() -> None:
    # The division by zero is read first, but the text is not a program: the syntax is fixed first.
    with pytest.raises(SpecSyntaxError, match="unexpected"):
        parse("in 205 -> lstm 7/0 -> -> dense 3")
    with pytest.raises(InvalidSizeError, match="division by zero") as caught:
        parse("in 205 -> lstm 7/0 -> dense 3")
    assert caught.value.span is not None
    assert caught.value.span.column == 16


@pytest.mark.parametrize("text", PROGRAMS)
def test_every_span_has_the_line_and_column_of_its_offset(text: str) -> None:
    # A node keeps its spans as offsets (derive.errors.Spans) and finds lines and columns when
    # asked: they must be the ones counted here in the text.
    checked = 0
    for node in _bodies(text):
        assert len(node.spans) == len(list(node.spans)) > 0
        for name, span in node.spans.items():
            line = text.count("\n", 0, span.start) + 1
            column = span.start - (text.rfind("\n", 0, span.start) + 1) + 1
            assert (span.line, span.column) == (line, column), (name, span)
            assert 0 <= span.start < span.end <= len(text)
            checked += 1
    assert checked >= 3


def test_spans_are_a_mapping_of_the_names_written() -> None:
    layer = next(_bodies("in 3\n -> dense 4 (bias=none) x2 as f"))
    assert isinstance(layer, Layer)
    assert list(layer.spans) == ["node", "repeat", "label", "kind", "size", "bias"]
    assert layer.spans["bias"] == Span(18, 27, 2, 14)  # "bias=none", from column 14 of line 2
    assert layer.spans.get("proj") is None
    with pytest.raises(KeyError):
        layer.spans["proj"]
