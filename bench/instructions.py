"""Instructions per spec, counted by valgrind's callgrind: a measure that load on the machine
does not move, for changes smaller than the noise of timing.

    python bench/instructions.py                      this interpreter's derive
    python bench/instructions.py --before OTHER       and a column for OTHER, an interpreter
                                                      with another version of derive installed

Each workload runs twice in a new process under callgrind, warmed the same way, once with
no items and once with ``--items`` of them; the difference, divided by the items, is what
one item costs, imports and warm-up left out. ``start`` is one cold start instead: the
``derive`` command on the seed network, less a process that imports SymPy the same way (what
derive's own import, count and output add to the floor that SymPy's import sets). The counts
are exact and repeat from run to run on the same interpreter and libraries; they are not
time (a cache miss costs more than an instruction), so the timed targets stay in
``bench/run.py``. Needs ``valgrind``.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from run import SEED  # this folder's bench/run.py: the workloads are its specs

ROOT = Path(__file__).resolve().parent.parent

# One script for every workload: argv is the workload's name, how many items, and the folder
# of bench/run.py, whose specs and tables it counts (numeric v1 networks, each with another
# size). The warm-up's sizes are far from the measured ones, so that no cache of the warm-up
# answers for them.
HARNESS = r"""
import io, sys
workload, items = sys.argv[1], int(sys.argv[2])
sys.path.insert(0, sys.argv[3])
from run import SEED, batch_specs, check_table

def run(n, first):
    if workload == "parse":
        from derive import parse
        for spec in batch_specs("v1", n, first):
            parse(spec)
    elif workload == "count":
        import derive
        for spec in batch_specs("v1", n, first):
            int(derive.count(spec).total)
    elif workload == "seed":
        import derive
        for _ in range(n):
            int(derive.count(SEED).total)
    elif workload == "batch":
        from derive.cli import main
        text = "\n".join(batch_specs("v1", n, first)) + "\n"
        main(["-", "--json"], stdin=io.StringIO(text), stdout=io.StringIO(), stderr=io.StringIO())
    elif workload == "check":
        import os, tempfile
        folder = tempfile.mkdtemp()
        path = os.path.join(folder, "table.tsv")
        with open(path, "w", encoding="utf-8") as file:
            file.write(check_table(n, first))
        try:
            from derive.check import stream
        except ImportError:  # a version that reads the whole table first
            from derive import check
            check.check_file(path).text()
        else:
            stream.run(path, io.StringIO(), jobs=1)
        os.remove(path)
        os.rmdir(folder)

run(200, 100_000)
if items:
    run(items, 0)
"""

# A cold start: the command as its script runs it, in a new process, and the same process
# importing SymPy alone, the collector off as the command has it, and leaving without the
# interpreter's teardown, as the command does: what derive adds to SymPy's import.
START = r"""
import gc, os, sys
gc.disable()
if int(sys.argv[2]):
    sys.argv = ["derive", sys.argv[1]]
    from derive.__main__ import run
    run()
import sympy
os._exit(0)
"""

WORKLOADS = {
    "start": f'a cold `derive "{SEED}"`, SymPy\'s import (collector off, no teardown) left out',
    "parse": "parse a numeric network (`derive.parse`)",
    "count": "parse and count it (`derive.count(spec).total`)",
    "seed": f"count the seed network again (`{SEED}`)",
    "batch": "`derive - --json`, one process: a line of JSON per spec",
    "check": "`derive check`, one process: a row of a table",
}


def collected(python: str, workload: str, items: int) -> int:
    """The instructions callgrind counts in a run of the harness."""
    with tempfile.TemporaryDirectory() as folder:
        script = Path(folder) / "harness.py"
        start = workload == "start"
        script.write_text(START if start else HARNESS, encoding="utf-8")
        argv = [SEED, str(items)] if start else [workload, str(items), str(ROOT / "bench")]
        command = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={os.devnull}"]
        done = subprocess.run(
            [*command, python, str(script), *argv],
            capture_output=True,
            text=True,
            cwd=folder,  # not the checkout: the interpreter's own derive is measured
            env={**os.environ, "PYTHONHASHSEED": "0"},  # the same dictionaries' layout each run
            check=False,
        )
    found = re.search(r"Collected : (\d+)", done.stderr)
    if done.returncode != 0 or found is None:
        raise SystemExit(f"{workload} under callgrind failed:\n{done.stderr[-2000:]}")
    return int(found[1])


def compile_derive(python: str) -> None:
    """Write the bytecode of ``python``'s derive, as ``pip install`` writes every installed
    package's: a start that compiled derive's sources would count the compiler."""
    find = "import importlib.util as u; print(next(iter(u.find_spec('derive').submodule_search_locations)))"
    folder = subprocess.run([python, "-c", find], capture_output=True, text=True, check=True).stdout.strip()
    subprocess.run([python, "-m", "compileall", "-q", folder], check=True, stdout=subprocess.DEVNULL)


def per_item(python: str, workload: str, items: int) -> float:
    """What one item of ``workload`` costs in ``python``, in instructions (a start is one item)."""
    if workload == "start":
        items = 1
        compile_derive(python)
    with ThreadPoolExecutor(2) as pool:  # the two runs side by side: counts do not mind
        empty, full = pool.map(lambda n: collected(python, workload, n), (0, items))
    return (full - empty) / items


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", help="an interpreter with another version of derive, for a 'before' column")
    parser.add_argument("--items", type=int, default=400, help="items per measured run (default 400)")
    parser.add_argument("workloads", nargs="*", metavar="WORKLOAD", help=f"of {', '.join(WORKLOADS)} (default: all)")
    args = parser.parse_args()
    unknown = [w for w in args.workloads if w not in WORKLOADS]
    if unknown:
        parser.error(f"unknown workload {unknown[0]!r}: choose from {', '.join(WORKLOADS)}")
    args.workloads = args.workloads or list(WORKLOADS)
    if args.items < 1:
        parser.error("--items must be at least 1")
    if shutil.which("valgrind") is None:
        raise SystemExit("bench/instructions.py needs valgrind (Debian: apt-get install valgrind)")
    pythons = [p for p in (args.before, sys.executable) if p]
    rows = []
    for workload in args.workloads:
        counts = [per_item(python, workload, args.items) for python in pythons]
        rows.append((workload, counts))
        print(f"{workload}: " + ", ".join(f"{c / 1e6:.3f} M" for c in counts), file=sys.stderr)
    columns = "before | after | after / before |" if args.before else "instructions |"
    print("| workload | what one item is | " + columns)
    print("|---|---|" + ("--:|--:|--:|" if args.before else "--:|"))
    for workload, counts in rows:
        cells = [f"{c / 1e6:.3f} M" for c in counts]
        if args.before:
            cells.append(f"{counts[1] / counts[0]:.3f}")
        print(f"| {workload} | {WORKLOADS[workload]} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
