"""Benchmarks for derive, against references measured in the same run.

    python bench/run.py              full mode: many runs, writes docs/performance.md, exits 1
                                     if a target is missed
    python bench/run.py --quick      a few runs, no target enforced (CI runs this so it cannot rot)
    python bench/run.py --output F   write the report to F instead
    python bench/run.py --save F     also keep the targets' measurements in F (JSON)
    python bench/run.py --baseline F show the measurements kept in F as a "before" column

Absolute times on shared machines are noisy, so every target is a ratio between two numbers
measured here, in the same run, as medians; cold processes are interleaved round by round so
that a slow moment hits every command alike.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import importlib.metadata
import importlib.util
import io
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SEED = "in 205 -> lstm 700 x5 -> dense 205"

# The networks of SPEC §3 (the seed questions), each with the convention it is quoted under.
SEEDS = [
    ("in 4096 -> lstm 256", "keras"),
    ("in 3 -> lstm 2", "keras"),
    ("in m -> lstm n", "keras"),
    ("in 39 -> lstm 1024 x3 -> dense 34", "keras"),
    ("in 205 -> lstm 700 x5 -> dense 205", "graves2013"),
    ("in 205 -> lstm 700 x5 -> lstm 205", "plain"),
    ("in 39 -> lstm 1024 (proj=256) x2 -> lstm 1024 (proj=256, nproj=256) -> dense 34", "sak2014"),
]
# A count of degree 200 in n: a budget is solved on integers, never by factoring the polynomial.
POWER = "in 205 -> lstm " + "*".join(["n"] * 100)
PATTERN = ["lstm 256", "gru 128", "bilstm 64 (peephole)", "dense 512", "rnn 32 (bias=double)", "lstm 128 (proj=64)"]


# Whole networks (language v2): a decoder stack of GPT-3's widths in dense layers (the attention
# and MLP kinds come later), with a symbolic depth and with a number, and a program of 10,000 parts.
STACK = (
    "in 50257 -> embed 12288 as tok -> [ residual [dense 12288 -> dense 12288] -> "
    "residual [dense 49152 -> gelu -> dense 12288] ] x {L} -> dense 50257 (bias=none, tied=tok)"
)
# Symbolic blow-ups: each must count and print within a second (the display algebra is bounded).
BLOWUPS = {
    "40 symbolic LSTMs under graves2013": "in a -> "
    + " -> ".join(f"lstm s{k}" for k in range(40))
    + " using graves2013",
    "lstm on a sum of 100 symbols": "in ({0}) -> lstm ({0})".format("+".join(f"a{k}" for k in range(100))),
    "lstm on a product of four 10-symbol sums": "in n -> lstm "
    + "*".join("(" + "+".join(f"{c}{k}" for k in range(10)) + ")" for c in "abcd"),
    "1,500 embeds and 1,500 tied dense layers": "in V -> "
    + " -> ".join("embed d -> dense V (tied)" for _ in range(1500)),
    "dense on a sum of 3,000 symbols": "in " + "+".join(f"a{k}" for k in range(3000)) + " -> dense 5",
}
STATEMENTS = " ; ".join("in 8 -> dense 8" for _ in range(10_000))
#: Issue 17's chain: one kind, so that every cost is per layer (parse, count, print).
DENSE_1000 = "in 8 -> " + " -> ".join("dense 8" for _ in range(1000))
#: The largest chain a spec may hold (shapes.MAX_LAYERS), for --compare and for memory per layer.
DENSE_10000 = "in 8 -> " + " -> ".join("dense 8" for _ in range(10_000))
DENSE_10 = "in 8 -> " + " -> ".join("dense 8" for _ in range(10))
COMPARED = ("keras", "pytorch")


def chain(layers: int) -> str:
    """A heterogeneous chain of ``layers`` layers: six kinds and options, in turn."""
    return "in 100 -> " + " -> ".join(PATTERN[k % len(PATTERN)] for k in range(layers))


TORCH = """
import torch
with torch.device("meta"):
    model = torch.nn.ModuleList([torch.nn.LSTM(205, 700, num_layers=5), torch.nn.Linear(700, 205)])
print(sum(p.numel() for p in model.parameters()))
"""
KERAS = """
import keras
layers = [keras.Input((None, 205))]
layers += [keras.layers.LSTM(700, return_sequences=True) for _ in range(4)]
layers += [keras.layers.LSTM(700), keras.layers.Dense(205)]
print(keras.Sequential(layers).count_params())
"""


@dataclass
class Cold:
    name: str
    argv: list[str]
    env: dict[str, str]
    seconds: list[float]
    peak_kb: list[int]

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def memory(self) -> float:
        return statistics.median(self.peak_kb) / 1024


def run_cold(command: Cold) -> None:
    """One cold run: a new process, its wall time and peak resident memory (from wait4)."""
    start = time.perf_counter()
    child = subprocess.Popen(command.argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=command.env)
    _, status, usage = os.wait4(child.pid, 0)
    command.seconds.append(time.perf_counter() - start)
    command.peak_kb.append(usage.ru_maxrss)
    if status != 0:
        raise SystemExit(f"{command.name} failed: {child.stderr.read().decode() if child.stderr else ''}")


def derive_argv() -> list[str]:
    script = shutil.which("derive", path=str(Path(sys.executable).parent))
    return [script] if script else [sys.executable, "-m", "derive"]


def compile_derive() -> None:
    """Write derive's bytecode, as ``pip install`` does for SymPy and every other installed
    package: a cold start that compiled derive's sources each time (an editable install under
    PYTHONDONTWRITEBYTECODE) would time the compiler, not derive."""
    spec = importlib.util.find_spec("derive")  # found, not imported: the bench stays small for
    assert spec is not None  # its children's peak memory (wait4 counts what they were forked from)
    assert spec.submodule_search_locations
    package = next(iter(spec.submodule_search_locations))
    subprocess.run([sys.executable, "-m", "compileall", "-q", package], check=True, stdout=subprocess.DEVNULL)


def cold_commands() -> list[Cold]:
    # As a user's shell runs them: no PYTHONPATH, and bytecode read from __pycache__.
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONDONTWRITEBYTECODE")}
    commands = [
        Cold("python -c 'import sympy'", [sys.executable, "-c", "import sympy"], env, [], []),
        Cold(f'derive "{SEED}"', [*derive_argv(), SEED], env, [], []),
        Cold("derive on the 1,000-layer chain", [*derive_argv(), chain(1000)], env, [], []),
        Cold(
            "derive --compare keras,pytorch on 10,000 dense layers",
            [*derive_argv(), DENSE_10000, "--compare", ",".join(COMPARED)],
            env,
            [],
            [],
        ),
    ]
    if importlib.util.find_spec("torch"):
        commands.append(Cold("PyTorch, meta device, sum of numel", [sys.executable, "-c", TORCH], env, [], []))
    if importlib.util.find_spec("keras") and importlib.util.find_spec("torch"):
        keras_env = dict(env, KERAS_BACKEND="torch")
        commands.append(Cold("Keras 3 (torch backend), count_params", [sys.executable, "-c", KERAS], keras_env, [], []))
    return commands


@dataclass
class Warm:
    """One warm case, timed in rounds (every case's round in turn); its time is the median of
    its fastest round. Work from other processes on a shared machine comes in bursts, and only
    ever adds time: a burst during one round of one case does not become that case's time."""

    name: str
    spec: str
    convention: str | None
    seconds: list[float]
    peak_kb: float = 0.0
    within: int | None = None  # a parameter budget: solve for the spec's symbol instead of counting
    flops: bool = False  # the forward FLOPs in closed form instead of the table
    compare: tuple[str, ...] = ()  # conventions to compare the spec under, instead of counting
    rounds: list[list[float]] = field(default_factory=list)

    @property
    def median_ms(self) -> float:
        return min(statistics.median(times) for times in self.rounds) * 1000


def import_as_the_command_does() -> None:
    """Import derive in this process as the ``derive`` command imports it (derive/__main__.py):
    the collector off meanwhile, then what SymPy and derive made frozen out of its reach. The
    warm, batch and check measurements in this process then pay for the collections that the
    REPL, ``derive -`` and ``derive check`` pay, not for walking an import-time heap they never
    walk."""
    gc.disable()
    try:
        import derive.cli  # noqa: F401
    finally:
        gc.freeze()
        gc.enable()


def run_warm(case: Warm, minimum: int, budget: float) -> None:
    """The REPL case: parse, count and render the table (or solve for a budget and render the
    solution) in a process that is already warm."""
    import derive
    from derive.budget import solve
    from derive.render import solution_text

    def answer() -> str:
        if case.compare:
            return derive.compare(case.spec, list(case.compare)).text()
        result = derive.count(case.spec, case.convention)
        if case.flops:
            return str(result.flops())
        if case.within is None:
            return result.text()
        return solution_text(solve(result, case.within))

    if not case.rounds:  # the first round warms the case and measures its peak memory
        warmup = time.perf_counter()
        answer()  # warm: imports, the parser, first-use caches
        if time.perf_counter() - warmup > 0.1:  # a slow case: fewer runs tell its median as well
            minimum = min(minimum, 4)
        tracemalloc.start()
        answer()
        case.peak_kb = tracemalloc.get_traced_memory()[1] / 1024
        tracemalloc.stop()
    elif statistics.median(case.rounds[0]) > 0.1:
        minimum = min(minimum, 4)
    times: list[float] = []
    started = time.perf_counter()
    while len(times) < minimum or time.perf_counter() - started < budget:
        start = time.perf_counter()
        answer()
        times.append(time.perf_counter() - start)
        if len(times) >= 10_000:
            break
    case.rounds.append(times)
    case.seconds.extend(times)


# Prelude nets whose construction in torchvision (on the meta device) is the reference.
PRESETS = ("resnet152", "densenet121")
# Prelude transformers, and the Hugging Face model built from the same config on the meta device.
TRANSFORMERS = {
    "gpt3_175b": ("GPT2LMHeadModel", "GPT2Config", {"n_positions": 2048, "n_embd": 12288, "n_layer": 96, "n_head": 96}),
    "llama2_70b": (
        "LlamaForCausalLM",
        "LlamaConfig",
        {
            "hidden_size": 8192,
            "intermediate_size": 28672,
            "num_hidden_layers": 80,
            "num_attention_heads": 64,
            "num_key_value_heads": 8,
        },
    ),
}


def run_hf(name: str, minimum: int) -> float | None:
    """Median milliseconds to build the Hugging Face model of preset ``name`` on the meta device
    and sum its parameters (None without transformers)."""
    if importlib.util.find_spec("transformers") is None:
        return None
    import torch
    import transformers

    model, config, values = TRANSFORMERS[name]

    def build() -> int:
        with torch.device("meta"):
            built = getattr(transformers, model)(getattr(transformers, config)(**values))
        return sum(p.numel() for p in built.parameters())

    build()
    seconds: list[float] = []
    while len(seconds) < min(minimum, 5):
        start = time.perf_counter()
        build()
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds) * 1000


def run_torchvision(name: str, minimum: int, budget: float) -> float | None:
    """Median milliseconds to build torchvision's ``name`` on the meta device, warm (None
    without torchvision)."""
    if importlib.util.find_spec("torchvision") is None:
        return None
    import torch
    import torchvision

    def build() -> int:
        with torch.device("meta"):
            model = getattr(torchvision.models, name)(weights=None)
        return sum(p.numel() for p in model.parameters())

    build()
    seconds: list[float] = []
    started = time.perf_counter()
    while len(seconds) < minimum or time.perf_counter() - started < budget:
        start = time.perf_counter()
        build()
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds) * 1000


def warm_cases() -> list[Warm]:
    cases = [Warm(f"seed: `{spec}` ({conv})", spec, conv, []) for spec, conv in SEEDS]
    cases += [Warm(f"{n}-layer heterogeneous chain", chain(n), None, []) for n in (10, 100, 1000)]
    cases += [
        Warm("lstm h x 5 (symbolic h)", "in 205 -> lstm h x 5 -> dense 205", None, []),
        Warm("lstm h x 1000000000000", "in 205 -> lstm h x 1000000000000 -> dense 205", None, []),
        Warm("lstm h x L (symbolic L)", "in 205 -> lstm h x L -> dense 205", None, []),
        Warm("--budget 19M: lstm h x 5", "in 205 -> lstm h x5 -> dense 205", None, [], within=19_000_000),
        Warm("--budget 1e12: lstm n*n*…*n (100 factors)", POWER, None, [], within=10**12),
        Warm("GPT-3-wide stack, [ ... ] x 96", STACK.format(L=96), None, []),
        Warm(
            "stack of width d, [ ... ] x 5", STACK.format(L=5).replace("12288", "d").replace("49152", "4*d"), None, []
        ),
        Warm(
            "stack of width d, [ ... ] x L", STACK.format(L="L").replace("12288", "d").replace("49152", "4*d"), None, []
        ),
        Warm("GPT-3-wide stack, [ ... ] x L (symbolic L)", STACK.format(L="L"), None, []),
        Warm("10,000-statement program", STATEMENTS, None, []),
        Warm("1,000 dense layers", DENSE_1000, None, []),
        Warm("10 dense layers", DENSE_10, None, []),
        Warm("10,000 dense layers", DENSE_10000, None, []),
        Warm("--compare keras,pytorch on 10,000 dense layers", DENSE_10000, None, [], compare=COMPARED),
        *(Warm(f"preset: {name}", name, "pytorch", []) for name in PRESETS),
        *(Warm(f"preset: {name}", name, "pytorch", []) for name in TRANSFORMERS),
        Warm("FLOPs of gpt3_175b, symbolic T", "gpt3_175b", "pytorch", [], flops=True),
        *(Warm(f"blow-up: {name}", spec, None, []) for name, spec in BLOWUPS.items()),
    ]
    return cases


def batch_specs(kind: str, n: int, first: int = 0) -> list[str]:
    """``n`` different specs for ``derive - --json``: numeric v1 networks, or GPT-2-size
    programs (GPT-2 small's widths in dense layers, as the stack above: a stand-in until the
    attention and MLP kinds are in the prelude)."""
    if kind == "v1":
        kinds = ("lstm", "gru", "dense")
        return [f"in {39 + k % 7} -> {kinds[k % 3]} {10 + first + k} x3 -> dense 34" for k in range(n)]
    return [
        STACK.format(L=12).replace("12288", "768").replace("49152", "3072").replace("50257", str(50257 + first + k))
        for k in range(n)
    ]


@dataclass
class Batch:
    """``derive - --json`` over ``n`` specs in a warm process (read, count, print each line of
    JSON): from a stream, in this process, CPU time, as for ``derive check``; or ``from_file``,
    as the command takes a file on standard input (in several processes where it chooses to),
    wall time."""

    name: str
    kind: str
    n: int
    seconds: list[float]
    from_file: bool = False

    @property
    def per_second(self) -> float:
        return self.n / statistics.median(self.seconds)


def run_batch(case: Batch, runs: int) -> None:
    from derive.cli import main

    clock = time.perf_counter if case.from_file else time.process_time
    for run in range(runs + 1):
        specs = batch_specs(case.kind, case.n, first=(run + 7 * case.from_file) * case.n)  # no earlier run's cache
        text, out, err = "\n".join(specs) + "\n", io.StringIO(), io.StringIO()
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "specs.txt"
            path.write_text(text, encoding="utf-8")
            with path.open(encoding="utf-8") as file:
                stdin = file if case.from_file else io.StringIO(text)
                start = clock()
                status = main(["-", "--json"], stdin=stdin, stdout=out, stderr=err)
                elapsed = clock() - start
        if run:  # the first run warms the process
            case.seconds.append(elapsed)
        if status != 0:
            raise SystemExit(f"{case.name} failed: {err.getvalue()[:500]}")


def check_table(rows: int, first: int = 0) -> str:
    """A table of ``rows`` rows for ``derive check``: every spec different (sizes from ``first``
    up), each as costly to count."""
    kinds = ("lstm", "gru", "dense")
    return "".join(
        f"in 39 -> {kinds[k % 3]} {10 + first + k} x3 -> dense 34\tkeras\t\t1M\trow {k}\n" for k in range(rows)
    )


@dataclass
class CheckRun:
    """``derive check`` of a table in a warm process (read, count, report as text), against
    specs like them counted one by one with ``derive.count``. Times are the process's CPU time:
    the work is all in this process, and a busy machine slows it less than the wall clock."""

    rows: int
    seconds: list[float]
    counting: list[float]
    peak_kb: float = 0.0

    @property
    def per_row_ms(self) -> float:
        return statistics.median(self.seconds) * 1000 / self.rows

    @property
    def count_ms(self) -> float:
        return statistics.median(self.counting) * 1000 / self.rows if self.counting else 0.0


def run_check(case: CheckRun, runs: int, memory: bool, reference: bool) -> None:
    """Check the table ``runs`` times as ``derive check FILE`` does (read from a file, counted
    row by row, the text report), each followed, with ``reference``, by counting its specs
    alone; with ``memory``, once more under tracemalloc for the peak."""
    import derive

    first = 0

    def table() -> str:  # new sizes each time: nothing is found in a cache of an earlier run
        nonlocal first
        first += case.rows
        return check_table(case.rows, first)

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "table.tsv"
        for _ in range(runs):
            path.write_text(table(), encoding="utf-8")
            start = time.process_time()
            check_path(path)
            case.seconds.append(time.process_time() - start)
            if reference:
                specs = [line.split("\t")[0] for line in table().splitlines()]
                start = time.process_time()
                for spec in specs:
                    int(derive.count(spec, "keras"))
                case.counting.append(time.process_time() - start)
        if memory:
            path.write_text(table(), encoding="utf-8")
            tracemalloc.start()
            check_path(path)
            case.peak_kb = tracemalloc.get_traced_memory()[1] / 1024
            tracemalloc.stop()


def streams() -> bool:
    """Whether this derive checks a table as it streams it (and takes --jobs): a version
    before it is measured by the same script, for the before column, without those rows."""
    return importlib.util.find_spec("derive.check.stream") is not None


def check_path(path: Path) -> None:
    """``derive check FILE``'s work, in this process, with the text report."""
    if streams():
        from derive.check import stream

        stream.run(path, io.StringIO())
    else:
        from derive import check

        check.check_file(path).text()


@dataclass
class Jobs:
    """``derive check --jobs N FILE`` in a new process: wall time and peak memory; ``jobs``
    ``None``: without ``--jobs``, as the command runs by default."""

    rows: int
    jobs: int | None
    seconds: list[float]
    peak_kb: list[int]

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)


# derive check as the command runs it (derive.__main__: the collector kept off SymPy's objects,
# the exit without teardown), in a new process that says its own peak memory and its workers'.
# Its own is read from /proc (VmHWM, this program's alone): Linux keeps the peak of the process
# image an exec replaced, so getrusage would count the bench the child was forked from.
CHECK = """
import os, resource, sys
leave = os._exit


def own_peak():
    try:
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def peak_then_leave(status):
    peak = max(own_peak(), resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    sys.stderr.write(f"peak {peak}\\n")
    sys.stderr.flush()
    leave(status)


os._exit = peak_then_leave
sys.argv = ["derive", *sys.argv[1:]]
from derive.__main__ import run

try:
    run()
except SystemExit as done:
    peak_then_leave(done.code if isinstance(done.code, int) else 1)
"""


def run_jobs(cases: list[Jobs], runs: int, folder: Path) -> None:
    """``derive check --jobs N`` on the same table for every N, interleaved round by round
    (a new table each round: nothing is found in a cache)."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONDONTWRITEBYTECODE")}
    for round_ in range(runs):
        for case in cases:
            path = folder / f"table-{case.rows}-{round_}.tsv"
            if not path.exists():
                path.write_text(check_table(case.rows, 10**7 * (round_ + 1)), encoding="utf-8")
            argv = [sys.executable, "-c", CHECK, "check", str(path)]
            argv += [] if case.jobs is None else ["--jobs", str(case.jobs)]
            start = time.perf_counter()
            done = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, check=False)
            case.seconds.append(time.perf_counter() - start)
            said = done.stderr.decode()
            if done.returncode not in (0, 1) or "peak " not in said:  # 1: a row disagrees, as rows do here
                raise SystemExit(f"derive check --jobs {case.jobs} failed: {said[-2000:]}")
            case.peak_kb.append(int(said.rsplit("peak ", 1)[1]))


def _load() -> float:
    try:
        return os.getloadavg()[0]
    except OSError:
        return float("nan")


def version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


@dataclass
class Target:
    what: str
    measured: float
    limit: float
    unit: str = "×"

    @property
    def met(self) -> bool:
        return self.measured <= self.limit

    def shown(self, value: float | None) -> str:
        if value is None:
            return "—"
        return f"{value:.2f}{self.unit}" if self.unit == "×" else f"{value:.3f} {self.unit}"

    def row(self, before: float | None = None, compared: bool = False) -> str:
        limit = f"≤ {self.limit:g}{self.unit}" if self.unit == "×" else f"≤ {self.limit:g} {self.unit}"
        was = f" {self.shown(before)} |" if compared else ""
        return f"| {self.what} |{was} {self.shown(self.measured)} | {limit} | {'met' if self.met else '**missed**'} |"


def targets(
    cold: dict[str, Cold],
    warm: dict[str, Warm],
    checks: list[CheckRun],
    batches: list[Batch],
    jobs: list[Jobs],
    built: dict[str, float | None] | None = None,
) -> list[Target]:
    cli, sympy = cold[f'derive "{SEED}"'], cold["python -c 'import sympy'"]
    # Each round's two runs are next to each other in time: the median of the rounds' ratios
    # is steadier than the ratio of the medians when the machine's speed drifts during the run.
    paired = statistics.median(a / b for a, b in zip(cli.seconds, sympy.seconds, strict=True))
    found = [Target("cold CLI / `python -c 'import sympy'`", paired, 0.8)]
    for name in PRESETS:
        found.append(Target(f"warm, `{name}` (pytorch)", warm[f"preset: {name}"].median_ms, 20, "ms"))
        reference = (built or {}).get(name)
        if reference:
            found.append(
                Target(
                    f"warm, `{name}` / torchvision's {name} built on the meta device",
                    warm[f"preset: {name}"].median_ms / reference,
                    1,
                )
            )
    for name in TRANSFORMERS:
        found.append(Target(f"warm, `{name}` (pytorch)", warm[f"preset: {name}"].median_ms, 5, "ms"))
        reference = (built or {}).get(name)
        if reference:
            found.append(
                Target(
                    f"warm, `{name}` / Hugging Face's model built on the meta device",
                    warm[f"preset: {name}"].median_ms / reference,
                    1,
                )
            )
    torch = cold.get("PyTorch, meta device, sum of numel")
    if torch:
        found.append(Target("cold CLI / PyTorch meta-device count", cli.median / torch.median, 0.3))
    compared = cold["derive --compare keras,pytorch on 10,000 dense layers"]
    found.append(Target("cold `derive --compare keras,pytorch` on 10,000 dense layers", compared.median, 1, "s"))
    seed = warm[f"seed: `{SEED}` (graves2013)"]
    found.append(Target(f"warm, `{SEED}`", seed.median_ms, 0.2, "ms"))
    slowest = max((w for w in warm.values() if w.name.startswith("seed")), key=lambda w: w.median_ms)
    found.append(Target(f"warm, slowest seed network (`{slowest.spec}`)", slowest.median_ms, 2, "ms"))
    found.append(Target("warm, 1,000 dense layers", warm["1,000 dense layers"].median_ms, 40, "ms"))
    found.append(
        Target(
            "warm, 1,000-layer chain / 10-layer chain",
            warm["1000-layer heterogeneous chain"].median_ms / warm["10-layer heterogeneous chain"].median_ms,
            120,
        )
    )
    found.append(  # linear up to the longest spec: a quadratic step shows only past 1,000 layers
        Target(
            "warm, 10,000 dense layers / 1,000 dense layers",
            warm["10,000 dense layers"].median_ms / warm["1,000 dense layers"].median_ms,
            12,
        )
    )
    found.append(
        Target(
            "warm, `lstm h x L` / `lstm h x 5`",
            warm["lstm h x L (symbolic L)"].median_ms / warm["lstm h x 5 (symbolic h)"].median_ms,
            2,
        )
    )
    found.append(
        Target(
            "warm, `--budget 1e12` on `lstm n*n*…*n` (degree 200) / on `lstm h x 5`",
            warm["--budget 1e12: lstm n*n*…*n (100 factors)"].median_ms / warm["--budget 19M: lstm h x 5"].median_ms,
            10,
        )
    )
    found.append(
        Target(
            "warm, stack of symbolic width d, `[ ... ] x L` / `[ ... ] x 5`",
            warm["stack of width d, [ ... ] x L"].median_ms / warm["stack of width d, [ ... ] x 5"].median_ms,
            2,
        )
    )
    found.append(
        Target(
            "warm, GPT-3-wide stack with symbolic L",
            warm["GPT-3-wide stack, [ ... ] x L (symbolic L)"].median_ms,
            50,
            "ms",
        )
    )
    found.append(Target("warm, FLOPs of `gpt3_175b` in T", warm["FLOPs of gpt3_175b, symbolic T"].median_ms, 10, "ms"))
    found.append(
        Target("warm, GPT-3-wide stack, `[ ... ] x 96`", warm["GPT-3-wide stack, [ ... ] x 96"].median_ms, 5, "ms")
    )
    found.append(
        Target(
            "warm, `--compare keras,pytorch` on 10,000 dense layers",
            warm["--compare keras,pytorch on 10,000 dense layers"].median_ms / 1000,
            1,
            "s",
        )
    )
    ten, many = warm["10 dense layers"], warm["10,000 dense layers"]
    found.append(
        Target(
            "peak allocated, 10,000 dense layers / (2 × 10 dense layers + 1 KiB per layer)",
            many.peak_kb / (2 * ten.peak_kb + 10_000),
            1,
        )
    )
    for name in BLOWUPS:
        found.append(Target(f"warm, {name}", warm[f"blow-up: {name}"].median_ms, 1000, "ms"))
    found.append(Target("warm, 10,000-statement program", warm["10,000-statement program"].median_ms, 50, "ms"))
    found.append(
        Target(
            "peak memory of the CLI, 1,000-layer chain / seed",
            cold["derive on the 1,000-layer chain"].memory / cli.memory,
            1.5,
        )
    )
    for batch, limit in zip(batches, (0.2, 1.0, 0.2), strict=True):
        found.append(Target(f"`derive - --json`, time per spec: {batch.name}", 1000 / batch.per_second, limit, "ms"))
    small, middle, large = checks
    found.append(Target("`derive check` of 10,000 rows", middle.per_row_ms * 10, 3, "s"))
    found.append(
        Target(
            f"`derive check`, time per row: {large.rows:,} rows / {small.rows:,} rows",
            large.per_row_ms / small.per_row_ms,
            1.25,
        )
    )
    if len(jobs) >= 4:
        one, two, tenth, default = jobs[:4]
        found.append(
            Target(
                f"peak memory of `derive check` (a new process): {one.rows:,} rows / {tenth.rows:,} rows",
                statistics.median(one.peak_kb) / statistics.median(tenth.peak_kb),
                1.25,
            )
        )
        found.append(
            Target(f"`derive check` of {default.rows:,} rows, as the command runs by default", default.median, 3, "s")
        )
        found.append(Target(f"`derive check --jobs 2` of {two.rows:,} rows, a new process", two.median, 3, "s"))
        found.append(
            Target(f"`derive check`, {two.rows:,} rows: `--jobs 2` / `--jobs 1`", two.median / one.median, 0.75)
        )
    if len(jobs) == 5:
        million = jobs[4]
        found.append(
            Target(
                f"peak memory, `derive check --jobs {million.jobs}`: 1,000,000 rows / {jobs[1].rows:,} rows",
                statistics.median(million.peak_kb) / statistics.median(jobs[1].peak_kb),
                1.25,
            )
        )
    found.append(
        Target(
            f"`derive check` of {small.rows:,} rows / `derive.count` of their specs",
            small.per_row_ms / small.count_ms,
            1.5,
        )
    )
    return found


INSTRUCTIONS = [
    "## Instructions, for changes smaller than the noise",
    "",
    "On a shared machine two timings of the same work can differ by a third. For a change",
    "that saves a few percent, `bench/instructions.py` counts the instructions each item costs",
    "under valgrind's callgrind (a parse, a count, a line of `derive - --json`, a row of",
    "`derive check`), the run's imports and warm-up subtracted: counts repeat to within a few",
    "parts in a thousand whatever else the machine does. Its `start` counts a cold start, less",
    "a process that imports SymPy as the command does: what derive's own import, count and",
    "output add to SymPy's. With `--before PYTHON` (an interpreter with another version of",
    "derive installed) it shows both and their ratio:",
    "",
    "```sh",
    "python bench/instructions.py --before ../before/.venv/bin/python batch check",
    "```",
    "",
    "Instructions are not time (a cache miss costs more than an instruction), so the targets",
    "above stay timed; the counts say whether a change did what it meant to.",
    "",
]


def report(
    cold: list[Cold],
    warm: list[Warm],
    checks: list[CheckRun],
    batches: list[Batch],
    jobs: list[Jobs],
    found: list[Target],
    args: argparse.Namespace,
    runs: int,
) -> str:
    today = datetime.date.today().isoformat()
    mode = "--quick" if args.quick else "full"
    before: dict[str, float] = json.loads(args.baseline.read_text(encoding="utf-8")) if args.baseline else {}
    compared = bool(before)
    if compared:
        head = ["| target | before | after | limit | |", "|---|--:|--:|--:|---|"]
        intro = [
            "*Before* is the same script run on the same machine, in the same session, on the",
            f"previous version of derive ({before.get('version', 'unknown')}); *after* is this version.",
            "",
        ]
    else:
        head, intro = ["| target | measured | limit | |", "|---|--:|--:|---|"], []
    lines = [
        "# Performance",
        "",
        "derive answers without building a model, so it should be far faster than a framework-based",
        "counter and instant at a REPL. `bench/run.py` measures it against references timed in the",
        "same run; every target is a ratio of two medians, because absolute times on shared",
        "machines are noisy. This page is written by the benchmark:",
        "",
        "```sh",
        'pip install -e ".[test,oracle]"   # torch and keras, for the framework rows',
        "python bench/run.py                # full mode: writes this page; exits 1 if a target is missed",
        "python bench/run.py --quick        # a few runs, no target enforced (what CI runs)",
        "```",
        "",
        f"Measured on {today} in {mode} mode: {cpu()}, {os.cpu_count()} cores, {platform.system()} "
        f"{platform.release()}, Python {platform.python_version()}, SymPy {version('sympy')}, Lark {version('lark')}, "
        f"derive {version('derive')}, torch {version('torch')}, keras {version('keras')}.",
        "",
        f"Load average (one minute) at the start and the end of the run: {args.load[0]:.1f} and {_load():.1f}, "
        f"on {os.cpu_count()} cores. Other work on the machine slows every measurement, cold starts most;",
        "ratios measured in the same run hold up better than absolute times.",
        "",
        "## Targets",
        "",
        *intro,
        *head,
        *(t.row(before.get(t.what), compared) for t in found),
        "",
        "Warm measurements run in this process, after derive is imported as the command imports it",
        "(the collector off during the import, what it made frozen); the process has not imported",
        "torch or Keras yet.",
        "",
        "Some targets are stand-ins: the GPT-3-wide and GPT-2-wide stacks are written in dense",
        "layers, as they were before the attention and MLP kinds existed, so that runs compare",
        "across versions (the presets `gpt3_175b` and `llama2_70b` are timed as well); memory per",
        "layer is measured on 10,000 layers, the most one spec may hold.",
        "",
        "What a layer of a long chain keeps: its record, its result and its copies' counts, each in",
        "slots (no instance dictionary); where it was written, as one tuple of small offsets into the",
        "text (a line and column are found only for an error); its options, resolved once per kind",
        "and written options and shared. While the chain is read, the arrows between its layers are",
        "let go as they are passed, and the table keeps one copy of each repeated cell.",
        "",
        f"## Cold start (a new process each time; median of {runs} interleaved runs)",
        "",
        "The target's ratio is the median over the rounds of each round's ratio (the two runs of a",
        "round come one after the other), not the ratio of these medians.",
        "",
        "| command | median | peak memory |",
        "|---|--:|--:|",
        *(f"| {c.name} | {c.median * 1000:.0f} ms | {c.memory:.1f} MiB |" for c in cold),
        "",
        "The one-shot CLI imports only what its job needs: prompt_toolkit and the REPL load only for",
        "the prompt; a spec that parses is read from the grammar's tables without importing Lark;",
        "a numeric count never builds a symbolic sum, so SymPy never loads its tensor and",
        "combinatorics modules (tests/test_cli.py checks all three); each output format is imported",
        "only when it is printed. The garbage collector is off while SymPy is imported, what the",
        "import made is then frozen out of its reach, and a one-shot command leaves once its output",
        "is flushed, without the interpreter's teardown (a last collection over every object, which",
        "`python -c 'import sympy'` pays). Most of a cold start is SymPy's import, the floor for any",
        "tool built on SymPy; the frameworks pay for importing torch (and Keras). derive's bytecode",
        "is written before the runs, as `pip install` writes it for SymPy and every installed package.",
        "",
        "## Where the time goes on long programs",
        "",
        "The parser builds no parse tree: derive runs the grammar's LALR tables (built by Lark from",
        "the grammar, shipped as grammar/derive.tables.json) in a lean loop of its own",
        "(derive/lalr.py), which calls one method per grammar rule as it reduces it, and each record",
        "takes its place in the text from its first and last child; a text the loop cannot take goes",
        "to Lark's own parser, whose error is reported, so a spec that parses never imports Lark. A layer's",
        "terms are computed once per kind, size, options and input shape, and a kind's formula is",
        "printed once, however many layers (or lines of a batch) use it. What remains on a long",
        "chain is lexing and LALR parsing in Python, some 20 µs a layer, and building the records,",
        "which is why a program of 10,000 statements takes most of a second rather than the 50 ms",
        "aimed at: that needs a parser compiled to machine code.",
        "",
        "## Warm latency (one process, as at the REPL: parse, count, render the table)",
        "",
        f"Each case is timed in {len(warm[0].rounds)} round(s), every case's round in turn; the median",
        "shown is that of its fastest round (other work on a shared machine comes in bursts and only",
        "adds time). Runs counts them all.",
        "",
        "| spec | median | runs | peak allocated |",
        "|---|--:|--:|--:|",
        *(f"| {w.name} | {w.median_ms:.3f} ms | {len(w.seconds)} | {w.peak_kb:,.0f} KiB |" for w in warm),
        "",
        "A repeat costs the same for any count: `x 1000000000000` and a symbolic `x L` are one",
        "term each, never an unrolled loop:",
        "",
        ">>> import derive",
        '>>> derive.count("in 205 -> lstm h x L -> dense 205").layers[0].copies[1].count',
        "L - 1",
        "",
        "## `derive check` of large tables (one process: read, count every row, the text report)",
        "",
        "| rows | median CPU time | per row | `derive.count` alone, per row | runs | peak allocated |",
        "|--:|--:|--:|--:|--:|--:|",
        *(
            f"| {c.rows:,} | {statistics.median(c.seconds):.2f} s | {c.per_row_ms:.3f} ms "
            f"| {f'{c.count_ms:.3f} ms' if c.counting else '—'} "
            f"| {len(c.seconds)} | {f'{c.peak_kb / 1024:,.1f} MiB' if c.peak_kb else '—'} |"
            for c in checks
        ),
        "",
        "Every row's spec is different (`in 39 -> lstm 10 x3 -> dense 34`, then `gru 11`, `dense 12`,",
        "...), so each is counted: time grows in proportion to the rows, and a row costs a little",
        "more than counting its spec (the stated-figure rule, the outcome, its line of the report).",
        "Memory does not grow: the table is read a row at a time and the report's rows wait in a",
        "spool that keeps the last 4,096 in memory and the others in a temporary file.",
        "",
        "## `derive check --jobs N` (a new process each time: wall time, peak memory of the command and its workers)",
        "",
        "| rows | `--jobs` | median wall time | per row | runs | peak memory |",
        "|--:|--:|--:|--:|--:|--:|",
        *(
            f"| {j.rows:,} | {'default' if j.jobs is None else j.jobs} | {j.median:.2f} s "
            f"| {j.median * 1000 / j.rows:.3f} ms | {len(j.seconds)} | {statistics.median(j.peak_kb) / 1024:.1f} MiB |"
            for j in jobs
        ),
        "",
        "Each worker counts 64 rows at a time; the report is the same, in the same order, for any N.",
        "Without `--jobs`, derive check starts a process for every 500 rows, at most one per CPU it",
        "may use and 8; before, it counted in one process.",
        "",
        "## `derive - --json` (a warm process: read, count, print a line of JSON per spec)",
        "",
        "| specs | count | median time | specs per second |",
        "|---|--:|--:|--:|",
        *(f"| {b.name} | {b.n:,} | {statistics.median(b.seconds):.2f} s | {b.per_second:,.0f} |" for b in batches),
        "",
        "Numeric specs are `in 39 -> lstm 10 x3 -> dense 34` with a different size on every line;",
        "the wide programs are the stack above at GPT-2 small's widths, a different vocabulary each.",
        "From a stream (a pipe), derive answers in its own process, and the time is its CPU time;",
        "from a file on standard input it starts a process for every 500 lines, at most one per CPU",
        "and 8 (before, it answered in one), and the time is the wall time of the batch.",
        "",
        *INSTRUCTIONS,
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a few runs; report, but enforce no target")
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "performance.md")
    parser.add_argument("--save", type=Path, help="also write the targets' measurements to this JSON file")
    parser.add_argument("--baseline", type=Path, help="a file written by --save: shown as the 'before' column")
    parser.add_argument(
        "--million", action="store_true", help="also check a table of 1,000,000 rows with --jobs 0 (minutes)"
    )
    args = parser.parse_args()
    runs = 3 if args.quick else 15
    minimum, budget = (3, 0.05) if args.quick else (30, 1.0)

    args.load = (_load(),)
    compile_derive()
    cold = cold_commands()
    for round_ in range(runs):
        for command in cold:
            run_cold(command)
        print(f"cold round {round_ + 1}/{runs}", file=sys.stderr)
    import_as_the_command_does()
    warm = warm_cases()
    rounds = 1 if args.quick else 3
    for round_ in range(rounds):  # every case's round in turn: a slow moment is one round of a few
        for case in warm:
            run_warm(case, max(3, minimum // rounds), budget / rounds)
            if round_ == rounds - 1:
                print(f"warm: {case.name}: {case.median_ms:.3f} ms", file=sys.stderr)

    # derive check: a small table (with its peak allocated), one ten times larger, and one a hundred times.
    sizes = (100, 1_000, 10_000) if args.quick else (2_000, 20_000, 200_000)
    checks = [CheckRun(rows, [], []) for rows in sizes]
    for check, repeats in zip(checks, (3, 1, 1) if args.quick else (5, 3, 1), strict=True):
        run_check(check, repeats, memory=check is checks[0], reference=check is checks[0])
        print(f"derive check, {check.rows:,} rows: {check.per_row_ms:.3f} ms per row", file=sys.stderr)

    jobs: list[Jobs] = []
    if (os.cpu_count() or 1) >= 2 and streams():
        rows = 1_000 if args.quick else 10_000
        jobs = [Jobs(rows, 1, [], []), Jobs(rows, 2, [], []), Jobs(rows // 10, 1, [], []), Jobs(rows, None, [], [])]
        with tempfile.TemporaryDirectory() as folder:
            run_jobs(jobs, 1 if args.quick else 3, Path(folder))
        for run in jobs:
            print(
                f"derive check --jobs {run.jobs or 'default'}, {run.rows:,} rows: {run.median:.2f} s", file=sys.stderr
            )
    if args.million and streams():
        million = Jobs(1_000_000, os.cpu_count() or 1, [], [])
        with tempfile.TemporaryDirectory() as folder:
            run_jobs([million], 1, Path(folder))
        jobs.append(million)
        print(f"derive check --jobs {million.jobs}, 1,000,000 rows: {million.median:.0f} s", file=sys.stderr)

    batches = [
        Batch("numeric networks", "v1", 500 if args.quick else 5_000, []),
        Batch("GPT-2-wide programs", "gpt2", 50 if args.quick else 1_000, []),
        Batch("numeric networks, a file on standard input (wall time)", "v1", 500 if args.quick else 5_000, [], True),
    ]
    for batch in batches:
        run_batch(batch, 1 if args.quick else 3)
        print(f"derive - --json, {batch.name}: {batch.per_second:,.0f} specs/s", file=sys.stderr)
    built = {name: run_torchvision(name, minimum, budget) for name in PRESETS}
    built.update({name: run_hf(name, minimum) for name in TRANSFORMERS})
    for name, ms in built.items():
        if ms is not None:
            print(f"{name} built by its framework on the meta device: {ms:.3f} ms", file=sys.stderr)
    found = targets({c.name: c for c in cold}, {w.name: w for w in warm}, checks, batches, jobs, built)
    args.output.write_text(report(cold, warm, checks, batches, jobs, found, args, runs), encoding="utf-8")
    if args.save:
        saved = {t.what: t.measured for t in found}
        args.save.write_text(json.dumps({"version": version("derive"), **saved}, indent=1), encoding="utf-8")
    for target in found:
        print(target.row(), file=sys.stderr)
    missed = [t for t in found if not t.met]
    if missed and not args.quick:
        print(f"{len(missed)} target(s) missed", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
