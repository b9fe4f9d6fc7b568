"""Pictures: --plot FILE draws where the parameters, FLOPs or bytes go, or a closed form over a
range. The shares are checked against arithmetic written here; the files for being made,
holding their labels, and being the same bytes on every run. matplotlib is the optional extra
``derive[plot]``: the tests skip without it unless DERIVE_REQUIRE_ORACLES=1 (as in CI)."""

from __future__ import annotations

import re
import shlex
import sys
from pathlib import Path
from types import ModuleType

import oracles
import pytest

import derive
import derive.api
import derive.cli
from conftest import ROOT, run_cli
from derive import repl
from derive.render import plot

SEQ = "in 100 -> embed 8 -> lstm 16 -> layernorm -> dense 100"


@pytest.fixture(scope="module")
def matplotlib() -> ModuleType:
    return oracles.require("matplotlib")


def test_shares_of_parameters_by_kind() -> None:
    # plain: no biases; layer norm keeps its gain (16)
    found = plot.shares(derive.count(SEQ, "plain"))
    assert found == {
        ("part 1", "embeddings"): 100 * 8,
        ("part 1", "recurrent"): 4 * 16 * (8 + 16),
        ("part 1", "norms"): 16,
        ("part 1", "dense"): 16 * 100,
    }


def test_shares_of_flops_need_t_and_count_copies() -> None:
    result = derive.count("in 100 -> embed 8 -> [dense 8 -> relu] x 3 -> dense 100", "plain")
    with pytest.raises(derive.DeriveError, match="needs numbers, but the count still has T"):
        plot.shares(result, "flops")
    found = plot.shares(result.subs(T=5, B=2), "flops")
    assert found == {("part 1", "dense"): 2 * 5 * 2 * (3 * 8 * 8 + 8 * 100)}


def test_shares_of_parts_and_of_memory() -> None:
    spec = "encoder: in 50 -> embed 4 -> gru 6 ; decoder: in 50 -> embed 4 -> attn 4 (heads=2) -> dense 50"
    result = derive.count(spec, "plain").subs(T=10)
    params = plot.shares(result)
    assert params == {
        ("encoder", "embeddings"): 200,
        ("encoder", "recurrent"): 3 * 6 * (4 + 6),
        ("decoder", "embeddings"): 200,
        ("decoder", "attention"): 4 * 4 * 4,
        ("decoder", "dense"): 200,
    }
    memory = plot.shares(result, "memory", "bf16", "adam")
    kv = 10 * 2 * 4 * 2  # T · (keys and values of width 4) · 2 bytes
    assert memory == {**{key: 16 * n for key, n in params.items()}, ("decoder", "KV cache"): kv}
    assert sum(memory.values()) == result.memory("bf16", "adam").total


def test_gpt2_shares_add_up_to_the_total() -> None:
    result = derive.count("gpt2", "pytorch")
    found = plot.shares(result)
    assert {name for _, name in found} == {"embeddings", "attention", "MLP", "norms"}  # the tied head has 0
    assert sum(found.values()) == result.total
    assert found[("gpt2", "MLP")] == 12 * (2 * 768 * 3072 + 3072 + 768)


def test_breakdown_svg_has_the_labels_and_is_the_same_every_time(matplotlib: ModuleType, tmp_path: Path) -> None:
    first, second = tmp_path / "a.svg", tmp_path / "b.svg"
    for path in (first, second):
        run = run_cli("gpt2", "-c", "pytorch", "--plot", str(path))
        assert run.status == 0, run.err
        assert run.out.endswith(f"picture: {path}\n")
    text = first.read_text(encoding="utf-8")
    for label in ("gpt2: 124M parameters", "embeddings", "attention", "MLP", "norms", "46%"):
        assert label in text
    assert "<dc:date>" not in text
    assert first.read_bytes() == second.read_bytes()


def test_breakdown_of_flops_by_part_as_png(matplotlib: ModuleType, tmp_path: Path) -> None:
    path = tmp_path / "flops.png"
    spec = "encoder: in 100 -> embed 8 -> lstm 16 ; decoder: in 100 -> embed 8 -> gru 16 -> dense 100"
    run = run_cli(spec, "--flops", "--set", "T=20", "--plot", str(path))
    assert run.status == 0, run.err
    assert path.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    svg = tmp_path / "flops.svg"
    assert run_cli(spec, "--flops", "--set", "T=20", "--plot", str(svg)).status == 0
    text = svg.read_text(encoding="utf-8")
    assert all(label in text for label in ("encoder", "decoder", "recurrent", "dense", "FLOPs, forward"))


def test_breakdown_of_memory_shows_the_kv_cache(matplotlib: ModuleType, tmp_path: Path) -> None:
    path = tmp_path / "memory.svg"
    run = run_cli("llama2_70b", "--memory", "--dtype", "bf16", "--set", "T=4096", "--plot", str(path))
    assert run.status == 0, run.err
    text = path.read_text(encoding="utf-8")
    assert all(label in text for label in ("KV cache", "bytes (bf16, optimizer none)", "130 GiB"))


def test_range_draws_the_closed_form(matplotlib: ModuleType, tmp_path: Path) -> None:
    path = tmp_path / "scaling.svg"
    run = run_cli("gpt2 (d=d, L=24)", "--plot", str(path), "--range", "d=256..4096")
    assert run.status == 0, run.err
    text = path.read_text(encoding="utf-8")
    # 24 layers of 12·d² + 13·d, the tables 50257·d + 1024·d and the final norm 2·d
    assert "288*d**2 + 51595*d" in text
    assert 24 * 13 + 50257 + 1024 + 2 == 51595
    assert "parameters" in text
    flops = tmp_path / "flops.svg"
    run = run_cli("gpt2 (d=d, L=24)", "--flops", "--set", "T=1024", "--plot", str(flops), "--range", "d=256..4096")
    assert run.status == 0, run.err
    assert "FLOPs, forward" in flops.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["gpt2 (d=d)", "--plot", "x.svg"], "the picture needs numbers, but the count still has d"),
        (["gpt2", "--plot", "x.pdf"], "cannot draw a picture as '.pdf'"),
        (["gpt2 (d=d)", "--plot", "x.svg", "--range", "L=1..4"], "do not depend on 'L'"),
        (["gpt2 (d=d, L=L)", "--plot", "x.svg", "--range", "d=1..4"], "needs numbers for L"),
        (["gpt2 (d=d)", "--plot", "x.svg", "--range", "d=4..1"], "must go from a positive number up"),
        (["gpt2 (d=d)", "--plot", "x.svg", "--range", "d=a..b"], "cannot read the range 'd=a..b'"),
        (["gpt2", "--range", "d=1..4"], "--range goes with --plot FILE"),
        (["gpt2", "--plot", "x.svg", "--json"], "--plot draws a file beside the text table"),
        (["gpt2", "--plot", "x.svg", "--flops", "--memory"], "--plot draws one measure"),
    ],
)
def test_errors(matplotlib: ModuleType, tmp_path: Path, args: list[str], message: str) -> None:
    args = [str(tmp_path / a) if a.startswith("x.") else a for a in args]
    run = run_cli(*args)
    assert run.status == 2
    assert message in run.err
    assert "Traceback" not in run.err
    assert not list(tmp_path.iterdir())


def test_without_matplotlib_the_error_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)  # import fails
    run = run_cli("in 10 -> dense 5", "--plot", str(tmp_path / "x.svg"))
    assert run.status == 2
    assert "pictures need matplotlib" in run.err
    assert "pip install 'derive[plot]'" in run.err


def _labels(svg: str) -> list[str]:
    return re.findall(r"<text[^>]*>([^<]*)</text>", svg)


def test_the_pictures_in_the_docs_are_what_their_commands_draw(matplotlib: ModuleType, tmp_path: Path) -> None:
    """docs/compute.md names the commands that drew docs/images/*.svg: run again, they draw
    the same labels (the strokes may move with matplotlib's version; the text may not)."""
    docs = (ROOT / "docs" / "compute.md").read_text(encoding="utf-8")
    block = re.search(r"<!-- pictures -->\n```\n(.*?)```", docs, re.S)
    assert block is not None
    commands = [shlex.split(line) for line in block[1].splitlines()]
    assert len(commands) == 2
    for words in commands:
        picture = words[words.index("--plot") + 1]
        assert f"]({picture.removeprefix('docs/')})" in docs
        words[words.index("--plot") + 1] = str(tmp_path / Path(picture).name)
        run = run_cli(*words[1:])
        assert run.status == 0, run.err
        drawn = (tmp_path / Path(picture).name).read_text(encoding="utf-8")
        assert _labels(drawn) == _labels((ROOT / picture).read_text(encoding="utf-8"))


def test_the_repl_draws_the_last_spec(matplotlib: ModuleType, tmp_path: Path) -> None:
    session = repl.Session()
    session.handle("in 100 -> embed 8 -> lstm 16 -> dense 100")
    session.handle(":set T=10")
    path = tmp_path / "repl.svg"
    assert session.handle(f":plot {path} flops") == f"picture: {path}"
    assert all(label in path.read_text(encoding="utf-8") for label in ("recurrent", "dense", "FLOPs, forward"))
    session.handle("gpt2 (d=d, L=2)")
    scaling = tmp_path / "scaling.svg"
    assert session.handle(f":plot {scaling} d=64..128") == f"picture: {scaling}"
    assert "24*d**2 + 51309*d" in scaling.read_text(encoding="utf-8")  # 2·(12·d² + 13·d) + 51283·d
    assert "takes a file, one of flops, macs or memory" in session.handle(f":plot {path} watts")
    assert not (tmp_path / "x.svg").exists()


@pytest.mark.parametrize(("flag", "instead"), [("--plot", ":plot FILE"), ("--range", ":plot FILE NAME=A..B")])
def test_the_repl_says_what_to_type_instead_of_the_flags(flag: str, instead: str) -> None:
    parser = derive.cli.build_parser()
    args = parser.parse_args(["repl", flag, "x.svg" if flag == "--plot" else "d=1..2"])
    with pytest.raises(derive.DeriveError, match=f"{flag} does not apply to the REPL") as error:
        repl.session_from_args(args, parser)
    assert instead in str(error.value.hint)


def test_the_presets_on_a_curve() -> None:
    """gpt2 (d=d, L=24) passes through gpt2_medium (d = 1024, 24 layers, GPT-2's vocabulary
    and context), not through gpt2 (12 layers)."""
    result = derive.count("gpt2 (d=d, L=24)", "pytorch")
    found = derive.api.presets_on(result, "d", 256, 4096, plot.measure("params"))
    names = [name for name, _, _ in found]
    assert "gpt2_medium" in names
    assert "gpt2" not in names
    assert ("gpt2_medium", 1024, 354_823_168) in found  # Hugging Face's gpt2-medium
    flops = derive.api.presets_on(result.subs(T=64), "d", 256, 4096, plot.measure("flops"))
    assert [name for name, _, _ in flops if name == "gpt2_medium"] == ["gpt2_medium"]
    assert derive.api.presets_on(result, "d", 2000, 4096, plot.measure("params")) == []


def test_range_marks_the_presets(matplotlib: ModuleType, tmp_path: Path) -> None:
    path = tmp_path / "marks.svg"
    assert run_cli("gpt2 (d=d, L=24)", "--plot", str(path), "--range", "d=512..2048").status == 0
    assert "gpt2_medium" in path.read_text(encoding="utf-8")


def test_a_result_draws_itself_in_a_notebook() -> None:
    oracles.require("matplotlib")
    picture = derive.count("in 100 -> embed 8 -> lstm 16 -> dense 100").plot()
    svg = picture._repr_svg_()
    assert svg is not None
    assert svg.lstrip().startswith("<?xml")
    assert "recurrent" in svg
