"""The prelude and a user's definitions from the command line: --list, --show, --prelude, --depth."""

from __future__ import annotations

from pathlib import Path

import pytest

import derive
from conftest import run_cli

SUTSKEVER = "sutskever2014 (V_in=160000, V_out=80000, d=1000, L=4)"


def test_list_names_the_prelude_nets() -> None:
    run = run_cli("--list")
    assert run.status == 0, run.err
    nets = [line.strip() for line in run.out.splitlines()[run.out.splitlines().index("nets:") + 1 :]]
    assert SUTSKEVER in nets
    # SPEC §7: the transformer presets, each listed with its options.
    for name in ("gpt2", "gpt", "bert_large", "roberta_base", "t5_base", "llama2_70b", "mistral_7b"):
        assert any(line.startswith(name + " (") for line in nets), name


def test_show_prints_the_definition_as_written() -> None:
    run = run_cli("--show", "sutskever2014")
    assert run.status == 0, run.err
    assert run.out.startswith("# prelude, line ")
    assert "encoder: in V_in -> embed d -> lstm d x L ;" in run.out


def test_show_an_unknown_name_suggests_one() -> None:
    run = run_cli("--show", "sutskever")
    assert run.status == 2
    assert "did you mean 'sutskever2014'?" in run.err


def test_a_user_prelude_adds_blocks(tmp_path: Path) -> None:
    prelude = tmp_path / "mine.derive"
    prelude.write_text("# two dense layers\nblock mlp2 w (f=4*w) = dense f -> relu -> dense w\n")
    spec = "in 8 -> [residual [mlp2 8]] x 3"
    run = run_cli("--prelude", str(prelude), spec, "--json")
    assert run.status == 0, run.err
    # per copy: dense 8 -> 32 (8*32 + 32) and dense 32 -> 8 (32*8 + 8); three copies
    assert run.json["total"] == 3 * ((8 * 32 + 32) + (32 * 8 + 8))
    assert int(derive.count(spec, prelude=prelude)) == 3 * ((8 * 32 + 32) + (32 * 8 + 8))
    assert "mlp2 w (f=(4*w))" in run_cli("--prelude", str(prelude), "--list").out
    assert run_cli("--prelude", str(prelude), "--show", "mlp2").out.endswith(
        "block mlp2 w (f=4*w) = dense f -> relu -> dense w\n"
    )


def test_a_prelude_that_does_not_read_is_an_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.derive"
    bad.write_text("block = dense 3\n")
    run = run_cli("--prelude", str(bad), "in 3 -> dense 2")
    assert run.status == 2
    assert "line 1" in run.err
    missing = run_cli("--prelude", str(tmp_path / "none.derive"), "in 3 -> dense 2")
    assert missing.status == 2
    assert "cannot read the prelude" in missing.err


def test_a_prelude_holds_only_definitions(tmp_path: Path) -> None:
    parts = tmp_path / "parts.derive"
    parts.write_text("in 3 -> dense 2\n")
    run = run_cli("--prelude", str(parts), "in 3 -> dense 2")
    assert run.status == 2
    assert "a prelude holds only block and net definitions" in run.err


@pytest.mark.parametrize(("depth", "shown"), [("0", False), ("1", True)])
def test_depth_opens_blocks(depth: str, shown: bool) -> None:
    spec = "block pair w = dense w -> dense w ; in 4 -> pair 4 -> dense 2"
    run = run_cli(spec, "--depth", depth)
    assert run.status == 0, run.err
    rows = [line.split() for line in run.out.splitlines()]
    assert ["1", "pair", "4", "4", "->", "4", str(2 * (4 * 4 + 4))] in rows
    assert (["1.1", "dense", "4", "4", "->", "4", "h*i", "+", "h", str(4 * 4 + 4)] in rows) is shown


def test_depth_must_be_a_number() -> None:
    run = run_cli("in 3 -> dense 2", "--depth", "deep")
    assert run.status == 2
    assert "expected a whole number of levels" in run.err
