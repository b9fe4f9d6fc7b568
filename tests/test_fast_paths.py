"""The shortcuts taken for speed give the answers of the long way.

Counts are checked against arithmetic written here (an LSTM of h cells on i inputs has
4h(i + h) + 4h parameters under Keras; a dense layer i·h + h), never against derive itself.
"""

from __future__ import annotations

import gc
import subprocess
import sys

import pytest
import sympy as sp

import derive
from conftest import run_cli
from derive.algebra import sstr


def lstm(i: int, h: int) -> int:
    return 4 * h * (i + h) + 4 * h


def dense(i: int, h: int) -> int:
    return i * h + h


def test_the_same_layer_on_other_inputs_is_counted_anew() -> None:
    # One kind, size and options, three input widths: a cache keyed without the shape would
    # give the first count three times.
    result = derive.count("in 3 -> lstm 5 -> lstm 5 ; in 7 -> lstm 5", "keras")
    assert [int(n.params) for n in result.layers] == [lstm(3, 5), lstm(5, 5), lstm(7, 5)]
    frozen = derive.count("in 3 -> lstm 5 -> lstm 5 (frozen)", "keras")
    assert int(frozen.trainable) == lstm(3, 5)
    assert int(frozen.non_trainable) == lstm(5, 5)


def test_one_program_under_two_conventions_counts_each() -> None:
    # PyTorch keeps two bias vectors per gate (b_ih and b_hh): 4h more than Keras.
    spec = "in 3 -> lstm 5 -> lstm 5 -> dense 2"
    keras, pytorch = (derive.count(spec, name) for name in ("keras", "pytorch"))
    assert int(keras) == lstm(3, 5) + lstm(5, 5) + dense(5, 2)
    assert int(pytorch) == int(keras) + 2 * 4 * 5


def test_long_chains_sum_per_category() -> None:
    n = 2000
    result = derive.count("in 8 -> " + " -> ".join("dense 8" for _ in range(n)) + " -> dense 8 (frozen)")
    assert int(result.trainable) == n * dense(8, 8)
    assert int(result.non_trainable) == dense(8, 8)
    assert int(result.total) == (n + 1) * dense(8, 8)


def test_numbers_and_names_print_as_sympy_prints_them() -> None:
    values = [sp.Integer(0), sp.Integer(1), sp.Integer(-1), sp.Integer(10**40), sp.Symbol("h'"), sp.Symbol("n")]
    values += [sp.Symbol("d", integer=True, positive=True), 2 * sp.Symbol("d") + 1]
    assert [sstr(v) for v in values] == [sp.sstr(v) for v in values]


def test_the_formats_are_functions_whichever_module_loaded_first() -> None:
    code = (
        "import derive.render.latex, derive.render.text, derive.render.explain\n"
        "from derive.render import latex, text, explain, markdown, compare_text\n"
        "print(all(callable(f) and f.__module__.startswith('derive.render.') for f in "
        "(latex, text, explain, markdown, compare_text)))"
    )
    found = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert found.stdout.strip() == "True"


def test_a_comparison_of_a_parsed_program_shows_the_text_it_was_read_from() -> None:
    text = "in 3 -> lstm 5   # as written"
    comparison = derive.compare(derive.parse(text), ["keras", "pytorch"], source=text)
    assert comparison.spec == text
    assert comparison.totals == {"keras": lstm(3, 5), "pytorch": lstm(3, 5) + 4 * 5}
    shown = run_cli(text, "--compare", "keras,pytorch")
    assert shown.status == 0
    assert shown.out.splitlines()[0] == text


def test_a_one_shot_command_leaves_with_all_its_output_and_its_status() -> None:
    # The command leaves without the interpreter's teardown: everything written must be out.
    specs = "".join(f"in {k} -> dense 1\n" for k in range(1, 3001))
    done = subprocess.run([sys.executable, "-m", "derive", "-", "--json"], input=specs, capture_output=True, text=True)
    assert done.returncode == 0
    assert len(done.stdout.splitlines()) == 3000
    assert done.stdout.splitlines()[-1].endswith("}")
    failed = subprocess.run([sys.executable, "-m", "derive", "in 3 -> lstm"], capture_output=True, text=True)
    assert failed.returncode == 2
    assert failed.stderr.startswith("error:")
    assert failed.stderr.endswith("\n")


def test_printed_formulas_are_sympys() -> None:
    result = derive.count("in 3 -> lstm 5 -> lstm 5 (peephole) -> dense 2 -> lstm 4", "keras")
    data = result.as_dict()
    for node, entry in zip(result.layers, data["layers"], strict=True):
        assert node.formula is not None
        assert entry["formula"] == sp.sstr(node.formula, order="none")
        assert entry["latex"] == sp.latex(node.formula, order="none")
    peepholes = 3 * 5  # three diagonal peephole vectors of h cells (Gers et al. 2002)
    total = lstm(3, 5) + lstm(5, 5) + peepholes + dense(5, 2) + lstm(2, 4)
    assert data["latex"] == sp.latex(result.formula) == str(total)


def test_counting_leaves_the_garbage_collector_as_it_found_it() -> None:
    assert gc.isenabled()
    derive.count("in 3 -> lstm 5")
    assert gc.isenabled()
    with pytest.raises(derive.DeriveError):
        derive.compare("in 3 -> lstm", ["keras"])
    assert gc.isenabled()
    gc.disable()
    try:
        derive.count("in 3 -> lstm 5")
        assert not gc.isenabled()
    finally:
        gc.enable()
