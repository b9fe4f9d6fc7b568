"""CLI: ``derive SPEC`` and friends, a thin layer over :func:`derive.count`.

Exit status: 0 on success, 2 for a usage or DSL error (the message goes to standard error with
the line, column and a caret), 74 when standard input or output cannot be used, 141 when the
reader of the output goes away (quietly, as ``| head`` makes other tools stop), 130 for Ctrl-C,
and 1 for anything else, which is a bug in derive. A batch answers every line and exits with the
worst status of its lines: 1, else 2, else 0.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import io
import json
import os
import re
import stat
import sys
from collections.abc import Iterable, Iterator, Sequence
from typing import NamedTuple, TextIO, cast

from . import __version__
from .api import Result, count
from .conventions import CONVENTIONS
from .errors import DeriveError, Span, SpecSyntaxError, span_at
from .parse import parse

EXIT_IO = 74  # EX_IOERR of sysexits.h: standard input or output could not be used
EXIT_PIPE = 141  # 128 + SIGPIPE: what a shell reports for a tool stopped by a closed pipe

EPILOG = """\
examples:
  derive "in 205 -> lstm 700 x5 -> dense 205"
  derive "in 205 -> lstm 700 x5 -> dense 205" --convention graves2013
  derive "in m -> lstm n" --set m=205 --set n=700
  derive "in 39 -> bilstm 512 x2 -> dense 34 using pytorch" --json
  derive "in 205 -> lstm 700 x5 -> dense 205" --explain
  derive "in 205 -> lstm 700 x5 -> dense 205" --compare keras,pytorch,graves2013
  derive "in m -> lstm n" --latex --standalone > count.tex
  derive "in 205 -> lstm h x5 -> dense 205" --budget 19M
  derive --hf config.json     (a Hugging Face model's config; --show-spec prints the spec)
  derive - < specs.txt        (one spec per line)
  derive check table.tsv      (check a table of published counts; see docs/check.md)
  derive                      (an interactive prompt, on a terminal)

conventions: """ + ", ".join(CONVENTIONS)

# Patterns a count does not use are compiled on first use (re.match keeps what it compiles),
# not at import, where each would cost every command.
_NAMES = r"(?a)\s*\w+(?:\s*,\s*\w+)*\s*\Z"  # keras,pytorch: --compare NAMES, not a SPEC
_SURROGATE = re.compile("[\ud800-\udfff]")  # how Python holds bytes that are not UTF-8


class StreamError(OSError):
    """Standard input could not be read, or standard output written (closed, a full disk): an
    I/O failure, reported in one line, not a bug."""

    def __init__(self, what: str, error: OSError | None = None) -> None:
        super().__init__(what if error is None else f"{what}: {error.strerror or error}")


_BINDING = r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*([0-9](?:_?[0-9])*)\s*\Z"


def _binding(text: str) -> tuple[str, int]:
    match = re.match(_BINDING, text)
    if not match or int(match[2]) < 1:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE with a positive whole number, not '{text}'")
    return match[1], int(match[2])


def _depth(text: str) -> int:
    if not text.isdigit() or len(text) > 4:
        raise argparse.ArgumentTypeError(f"expected a whole number of levels, not '{text}'")
    return int(text)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``derive``."""
    parser = argparse.ArgumentParser(
        prog="derive",
        description="Exact parameter counts of neural networks, as numbers and as formulas.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "spec",
        nargs="?",
        metavar="SPEC",
        help='a network, e.g. "in 205 -> lstm 700 x5"; - reads one per line from standard input',
    )
    parser.add_argument(
        "-c", "--convention", metavar="NAME", help="how to count (default: keras); one of " + ", ".join(CONVENTIONS)
    )
    parser.add_argument(
        "-s",
        "--set",
        metavar="NAME=VALUE",
        action="append",
        type=_binding,
        default=[],
        help="bind a symbol to a size (repeatable)",
    )
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="print a JSON object (one per line with -)")
    output.add_argument("--latex", action="store_true", help="print the derivation as an amsmath align* block")
    output.add_argument("--markdown", action="store_true", help="print the table and total as GitHub Markdown")
    parser.add_argument("--standalone", action="store_true", help="with --latex: a complete document")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--explain", action="store_true", help="walk through each layer's count term by term")
    mode.add_argument(
        "--compare",
        nargs="?",
        const="",
        metavar="NAMES",
        help="count under several conventions (comma-separated; default: all) and say why they differ",
    )
    mode.add_argument("--budget", metavar="N", help="the largest size whose count is at most N (19M, 1.5B, 19e6)")
    mode.add_argument("--match", metavar="SPEC2", help="the size whose count matches SPEC2's count")
    mode.add_argument("--leading", metavar="SYMBOL", help="the leading-order term as SYMBOL grows")
    parser.add_argument("--solve", metavar="SYMBOL", help="with --budget or --match: the symbol to solve for")
    parser.add_argument(
        "--depth", metavar="N", type=_depth, default=0, help="show the insides of blocks N levels deep (default 0)"
    )
    compute = parser.add_argument_group("compute and memory (T: sequence length, B: batch; bind with --set)")
    counted = compute.add_mutually_exclusive_group()
    counted.add_argument("--flops", action="store_true", help="forward FLOPs per example, per layer and in total")
    counted.add_argument("--macs", action="store_true", help="forward multiply-accumulates (half the FLOPs)")
    compute.add_argument("--train", action="store_true", help="with --flops/--macs: training, ≈ 3 × forward")
    compute.add_argument("--memory", action="store_true", help="bytes of weights, gradients, optimizer, KV cache")
    compute.add_argument("--dtype", metavar="TYPE", default="fp32", help="with --memory: fp32, bf16, fp16, int8, int4")
    compute.add_argument(
        "--optimizer", metavar="NAME", default="none", help="with --memory: adam, sgd or none (inference)"
    )
    compute.add_argument(
        "--plot",
        metavar="FILE",
        help="draw FILE (.svg or .png): where the parameters (FLOPs with --flops, bytes with --memory) go",
    )
    compute.add_argument(
        "--range",
        metavar="NAME=A..B",
        dest="plot_range",
        help="with --plot: draw the closed form over NAME from A to B instead",
    )
    parser.add_argument("--prelude", metavar="FILE", help="a file of block and net definitions to use as well")
    parser.add_argument(
        "--hf", metavar="PATH", help="count a Hugging Face model from its config.json (or the folder holding it)"
    )
    parser.add_argument("--show-spec", action="store_true", help="with --hf: print the spec instead of counting it")
    parser.add_argument("--list", action="store_true", help="list the blocks and nets that programs can call")
    parser.add_argument("--show", metavar="NAME", help="print the definition of a block or net")
    _add_jobs(
        parser,
        "with -: answer the specs in N processes (0: one per CPU; by default, for a file on standard input, "
        "one per 500 lines, at most one per CPU and 8), in the same order",
    )
    parser.add_argument("--debug", action="store_true", help="show the traceback of an internal error")
    parser.add_argument("--version", action="version", version=f"derive {__version__}")
    return parser


def _sizes(args: argparse.Namespace, symbols: Iterable[str], strict: bool, used: set[str]) -> dict[str, int]:
    """The --set bindings for a spec with ``symbols``: all of them for one spec (so that a
    name the spec lacks is an error), only the ones it uses in a batch."""
    names = set(symbols)
    sizes = {name: value for name, value in args.set if strict or name in names}
    used.update(sizes)
    return sizes


def _budget(spec: str, args: argparse.Namespace, strict: bool, used: set[str]) -> str:
    from . import budget, render

    result = count(spec, args.convention)
    if args.leading:
        at = dict(args.set)  # where to weigh the rest against the whole, not bound away
        used.update(at)
        lead = budget.leading(result, args.leading, at)
        if args.json:
            return json.dumps(render.leading_dict(lead), ensure_ascii=False)
        return render.leading_latex(lead) if args.latex else render.leading_text(lead)
    sizes = _sizes(args, (s.name for s in result.symbols), strict, used)
    result = result.subs(**sizes) if sizes else result
    if args.match:
        target = budget.baseline(args.match, result)  # the spec's convention, unless SPEC2 says using
        bound = {k: v for k, v in args.set if k in {s.name for s in target.symbols}}
        used.update(bound)
        solution = budget.match(result, target.subs(**bound) if bound else target, args.solve)
    else:
        solution = budget.solve(result, budget.parse_budget(args.budget), args.solve)
    if args.json:
        return json.dumps(render.solution_dict(solution), ensure_ascii=False)
    return render.solution_latex(solution) if args.latex else render.solution_text(solution)


def _show(spec: str, args: argparse.Namespace, strict: bool, used: set[str]) -> str:
    if args.budget or args.match or args.leading:
        shown = _budget(spec, args, strict, used)
        if args.standalone:  # the align* block, in the document --latex --standalone makes of a count
            from . import render

            title = "Parameter budget" if args.budget else "Matching a count" if args.match else "Leading term"
            shown = render.document(count(spec, args.convention), title, shown)
        return shown
    if args.compare is not None:
        names = [n.strip() for n in args.compare.split(",") if n.strip()] or None
        from .compare import compare

        program = parse(spec, args.scope)  # once: a long chain takes a while to read
        sizes = _sizes(args, (s.name for s in program.symbols), strict, used)
        comparison = compare(program, names, sizes, source=spec)
        return json.dumps(comparison.as_dict(), ensure_ascii=False) if args.json else comparison.text()
    result = count(spec, args.convention, prelude=args.scope)
    sizes = _sizes(args, (s.name for s in result.symbols), strict, used)
    result = result.subs(**sizes) if sizes else result
    unit = "flops" if args.flops else "macs" if args.macs else None
    if args.explain and not args.json:
        if args.memory:
            from .render import compute as rendered

            memory = result.memory(args.dtype, args.optimizer)
            return "\n".join([result.explain(unit), "", *rendered.memory_lines(memory)])
        return result.explain(unit)
    if args.explain:
        return json.dumps(result.explain_dict(), ensure_ascii=False)
    if unit or args.memory or args.plot:
        return _compute(result, args, unit)
    if args.json:
        return json.dumps(result.as_dict(), ensure_ascii=False)
    if args.latex:
        return result.latex(standalone=args.standalone)
    if args.markdown:
        return result.markdown()
    return result.text(args.depth)


def _plot(result: Result, args: argparse.Namespace, unit: str | None) -> None:
    """``--plot FILE``: the breakdown by part and kind, or with ``--range`` the closed form."""
    from .api import presets_on
    from .render import plot

    what = unit or ("memory" if args.memory else "params")
    if args.plot_range:
        name, low, high = plot.parse_range(args.plot_range)
        marks = presets_on(result, name, low, high, plot.measure(what, args.dtype, args.optimizer))
        plot.scaling_plot(result, args.plot, name, low, high, what, args.dtype, args.optimizer, marks=marks)
    else:
        plot.breakdown_plot(result, args.plot, what, args.dtype, args.optimizer)


def _compute(result: Result, args: argparse.Namespace, unit: str | None) -> str:
    """The count with its FLOPs or MACs (a column and the total) and its memory, and the
    picture ``--plot`` draws."""
    from .render import compute as shown

    if args.plot:
        _plot(result, args, unit)
    memory = result.memory(args.dtype, args.optimizer) if args.memory else None
    if args.json:
        return json.dumps({**result.as_dict(), **shown.compute_dict(result, unit, args.train, memory)})
    if args.latex:
        extra = shown.latex_lines(result, unit, args.train) if unit else []
        extra += shown.memory_latex(memory) if memory is not None else []
        return result.latex(standalone=args.standalone, extra=tuple(extra))
    if args.markdown:
        lines = [result.markdown(unit), *(shown.markdown_lines(result, unit, args.train) if unit else [])]
        return "\n".join([*lines, *(shown.memory_markdown(memory) if memory is not None else [])])
    lines = [result.text(args.depth, unit)]
    if unit:
        lines.extend(shown.lines(result, unit, args.train))
    if memory is not None:
        lines.extend(["", *shown.memory_lines(memory)])
    if args.plot:
        lines.append(f"picture: {args.plot}")
    return "\n".join(lines)


def _definitions(args: argparse.Namespace) -> str:
    """``--list`` and ``--show NAME``: what programs can call, and how it is written."""
    from .api import definitions

    found = definitions(args.scope)
    if args.show:
        return found.show(args.show)
    return found.listing()


class _Answer(NamedTuple):
    """What one spec prints: messages for standard error (in order, before the answer), the
    answer for standard output (``None``: none), the --set names it used, and whether it
    failed (a mistake in the spec) or broke (a bug in derive)."""

    said: list[str]
    shown: str | None
    used: set[str]
    failed: bool = False
    broken: bool = False


def _answer(number: int, spec: str, args: argparse.Namespace, batch: bool) -> _Answer:
    """Answer one spec: a result, or an error (and, in a batch with --json, an error object, so
    that every line has its answer). A spec that derive itself fails on (a bug) is reported the
    same way."""
    used: set[str] = set()
    try:
        _check_utf8(spec)
        shown = _show(spec, args, strict=not batch, used=used)
        said = [f"warning: {w}" if not batch else f"warning: line {number}: {w}" for w in _warnings(spec, args)]
        return _Answer(said, shown, used)
    except DeriveError as error:
        json_error = _error_json(spec, error.message, number, error.span) if batch and args.json else None
        return _Answer([error.render(line_offset=number - 1)], json_error, used, failed=True)
    except Exception as error:  # a bug: say so for this spec, and answer the others
        if args.debug:
            raise
        message = f"internal error: {type(error).__name__}: {error}"
        json_error = _error_json(spec, message, number, None) if batch and args.json else None
        return _Answer([_internal(error, number if batch else None)], json_error, used, broken=True)


_batch_args: argparse.Namespace | None = None  # a batch worker's settings


def _batch_worker(args: argparse.Namespace) -> None:
    global _batch_args
    _batch_args = args


def _answer_chunk(specs: list[tuple[int, str]]) -> list[_Answer]:
    """Answer a chunk of a batch in a worker process."""
    assert _batch_args is not None
    return [_answer(number, spec, _batch_args, True) for number, spec in specs]


def _run(
    specs: Iterable[tuple[int, str]], args: argparse.Namespace, out: TextIO, err: TextIO, batch: bool, jobs: int = 1
) -> int:
    """Answer each spec (in ``jobs`` processes, in order): a result on standard output, or an
    error on standard error. The status is the worst of the specs': 1 for a bug, else 2 for a
    mistake, else 0."""
    if jobs > 1:
        from . import parallel

        answers: Iterable[_Answer] = parallel.in_processes(specs, _answer_chunk, jobs, _batch_worker, (args,))
    else:
        answers = (_answer(number, spec, args, batch) for number, spec in specs)
    failed = broken = False
    first = True
    used: set[str] = set()
    seen = False
    for answer in answers:
        seen = True
        for text in answer.said:
            _say(err, text)
        used |= answer.used
        failed, broken = failed or answer.failed, broken or answer.broken
        if answer.shown is None:
            continue
        if not first and not args.json:
            _write(out, "\n")
        _write(out, answer.shown + "\n")
        first = False
    unused = [name for name, _ in args.set if name not in used]
    if batch and seen and unused and not (failed or broken):  # a failed line may have been the one to use it
        which = "this symbol" if len(unused) == 1 else "these symbols"
        _say(err, f"error: --set {', '.join(unused)}: no spec uses {which}")
        failed = True
    return 1 if broken else 2 if failed else 0


def _batch_jobs(args: argparse.Namespace, stdin: TextIO) -> int:
    """The processes a batch is answered in: ``--jobs``; else, for a file on standard input
    (whose length is known), one per 500 lines (:func:`derive.parallel.auto_jobs`); else one,
    so that answers from a pipe come as the specs do. Workers start as copies of this process,
    with its settings; where the system cannot fork, the batch is answered here."""
    from . import parallel

    if not parallel.can_fork():
        return 1
    if args.jobs is not None:
        return args.jobs
    if args.plot:  # every spec would draw to the same file
        return 1
    lines = _lines_in_file(stdin)
    return 1 if lines is None else parallel.auto_jobs(lines)


def _lines_in_file(stream: TextIO) -> int | None:
    """How many lines are left in ``stream`` if it is a regular file (read, then put back where
    it was); ``None`` for a pipe, a terminal or anything else."""
    try:
        raw = getattr(stream, "buffer", None)
        if raw is None or not stat.S_ISREG(os.fstat(stream.fileno()).st_mode):
            return None
        start = raw.tell()
        lines = sum(block.count(b"\n") for block in iter(functools.partial(raw.read, 1 << 20), b""))
        raw.seek(start)
        return lines
    except (OSError, ValueError, io.UnsupportedOperation):
        return None


_MAYBE_STACKED = re.compile(r"\s\*\s+[0-9]")


def _warnings(spec: str, args: argparse.Namespace) -> tuple[str, ...]:
    """What the spec's text says that is likely a mistake (read again only where it may be)."""
    from .parse import parse as read

    if not _MAYBE_STACKED.search(spec):
        return ()
    return read(spec, args.scope).warnings


def _check_utf8(text: str) -> None:
    """Refuse text that holds bytes which are not UTF-8 (Python keeps them as lone surrogates),
    so that they never reach the output, where they would make the JSON invalid."""
    bad = _SURROGATE.search(text)
    if bad is None:
        return
    code = ord(bad[0])
    what = f"byte 0x{code - 0xDC00:02x}" if 0xDC80 <= code <= 0xDCFF else f"U+{code:04X}"
    shown = _SURROGATE.sub("\ufffd", text)
    raise SpecSyntaxError(
        f"not valid UTF-8: {what}", span_at(shown, bad.start()), hint="derive reads text as UTF-8", source=shown
    )


def _error_json(spec: str, message: str, number: int, span: Span | None) -> str:
    place = {"line": number + (0 if span is None else span.line - 1), "column": None if span is None else span.column}
    error = {"spec": _SURROGATE.sub("\ufffd", spec), "error": {"message": message, **place}}
    return json.dumps(error, ensure_ascii=False)


def _internal(error: Exception, line: int | None = None) -> str:
    where = "" if line is None else f" on line {line}"
    return (
        f"derive: internal error{where}: {type(error).__name__}: {error}\n"
        "This is a bug in derive; please report it with the command you ran (--debug shows the traceback)."
    )


def _write(out: TextIO, text: str) -> None:
    try:
        out.write(text)
    except BrokenPipeError:
        raise
    except OSError as error:
        raise StreamError("cannot write to standard output", error) from error


class _Output(io.TextIOBase):
    """Standard output for a report written as it is made (a table of a million rows is never
    held whole): a failure to write is a :class:`StreamError`, reported as such."""

    def __init__(self, out: TextIO) -> None:
        self.out = out

    def write(self, text: str) -> int:
        _write(self.out, text)
        return len(text)

    def flush(self) -> None:
        try:
            self.out.flush()
        except BrokenPipeError:
            raise
        except OSError as error:
            raise StreamError("cannot write to standard output", error) from error


def _say(err: TextIO, text: str) -> None:
    """Write a message to standard error; if even that fails, there is no one left to tell."""
    with contextlib.suppress(OSError):
        err.write(text + "\n")


def _lines(stream: TextIO) -> Iterator[tuple[int, str]]:
    """The specs of ``stream`` with their line numbers, skipping blank lines and ``#`` comments.

    Read as bytes where the stream has them and decoded line by line, so that a line which is
    not UTF-8 is reported on its own (by :func:`_check_utf8`) and the lines after it are still
    read. A byte order mark before the first line and the ``\\r`` of Windows line ends are dropped.
    """
    for number, line in enumerate(_read(stream), 1):
        text = line.decode("utf-8", "surrogateescape") if isinstance(line, bytes) else line
        text = text.removesuffix("\n").removesuffix("\r")
        if number == 1:
            text = text.removeprefix("\ufeff")
        if text.strip() and not text.lstrip().startswith("#"):
            yield number, text


def _read(stream: TextIO) -> Iterator[bytes | str]:
    try:
        yield from getattr(stream, "buffer", stream)
    except OSError as error:
        raise StreamError("cannot read standard input", error) from error


def main(
    argv: Sequence[str] | None = None,
    *,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """Run ``derive`` with ``argv``; return the exit status.

    The streams default to the process's, any of which may be closed (``None``).
    """
    stdin, stdout = stdin or sys.stdin, stdout or sys.stdout
    stderr = stderr or sys.stderr or io.StringIO()  # with standard error closed, messages are lost
    try:
        if stdout is None:
            raise StreamError("standard output is closed")
        status = _command(list(sys.argv[1:] if argv is None else argv), stdin, stdout, stderr)
        try:  # what is still buffered, so that a full disk is reported here and not at exit
            stdout.flush()
        except BrokenPipeError:
            raise
        except OSError as error:
            raise StreamError("cannot write to standard output", error) from error
        return status
    except BrokenPipeError:  # derive - < specs.txt | head -1: the reader has all it wants
        return EXIT_PIPE
    except StreamError as error:
        _say(stderr, f"derive: {error}")
        return EXIT_IO
    except OSError as error:
        _say(stderr, f"derive: input/output error: {error}")
        return EXIT_IO


def _command(words: list[str], stdin: TextIO | None, stdout: TextIO, stderr: TextIO) -> int:
    if words[:1] == ["check"]:  # derive check FILE: its own exit status (1 means a row disagrees)
        return check_main(words[1:], cast(TextIO, _Output(stdout)), stderr)
    parser = build_parser()
    shown = io.StringIO()  # argparse would hide a failure to write --help or --version
    try:  # argparse exits for --help, --version and usage errors: return its status instead
        with contextlib.redirect_stdout(shown), contextlib.redirect_stderr(stderr):
            args = parser.parse_args(words)
            _check_arguments(parser, args)
    except SystemExit as exit:
        _write(stdout, shown.getvalue())
        return exit.code if isinstance(exit.code, int) else 2
    if stdin is None:
        if args.spec in (None, "-", "repl") and not (args.list or args.show or args.hf):
            raise StreamError("standard input is closed")
        stdin = io.StringIO()  # never read: the spec is on the command line
    try:
        from .api import scope_of

        args.scope = scope_of(args.prelude)
        if args.list or args.show:
            _write(stdout, _definitions(args) + "\n")
            return 0
        if args.hf is not None:
            return _hf(args, stdout, stderr)
        if args.spec == "repl" or (args.spec is None and stdin.isatty()):
            from . import repl

            return repl.run(repl.session_from_args(args, parser), stdin=stdin, stdout=stdout, stderr=stderr)
        if args.spec in (None, "-"):
            return _run(_lines(stdin), args, stdout, stderr, batch=True, jobs=_batch_jobs(args, stdin))
        return _run([(1, args.spec)], args, stdout, stderr, batch=False)
    except DeriveError as error:  # e.g. derive repl --convention with an unknown name
        stderr.write(error.render() + "\n")
        return 2
    except KeyboardInterrupt:
        return 130
    except OSError:  # reading or writing the standard streams: reported by main
        raise
    except Exception as error:  # a bug: say so briefly, the traceback only on request
        if args.debug:
            raise
        _say(stderr, _internal(error))
        return 1


def _hf(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    """``--hf PATH``: the spec of a Hugging Face config, shown (``--show-spec``) or counted like
    a spec on the command line, under ``pytorch`` unless a convention is asked for."""
    from .importers import from_hf

    imported = from_hf(args.hf)
    if args.show_spec:
        _write(stdout, imported.text + "\n")
        return 0
    if args.convention is None:
        args.convention = imported.convention
    if not (args.json or args.latex or args.markdown):
        _write(stdout, f"{imported.origin}, from {args.hf}\n")
    return _run([(1, imported.text)], args, stdout, stderr, batch=False)


def _check_arguments(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Check what argparse cannot, and read ``--compare SPEC`` as the spec it is."""
    if args.hf is not None and args.spec is not None:
        parser.error("--hf reads the network from PATH: give no SPEC with it")
    if args.show_spec and args.hf is None:
        parser.error("--show-spec goes with --hf PATH")
    if args.compare and args.spec is None and not re.match(_NAMES, args.compare):
        # derive --compare "in 3 -> lstm 2": not convention names, so the spec, to compare under all
        args.spec, args.compare = args.compare, ""
    if args.standalone and not args.latex:
        parser.error("--standalone goes with --latex")
    if args.standalone and args.spec in (None, "-") and args.hf is None:
        parser.error("--standalone makes one document: give one SPEC")
    if (args.explain or args.compare is not None) and (args.latex or args.markdown):
        parser.error("--explain and --compare print text or --json")
    if args.solve and not (args.budget or args.match):
        parser.error("--solve SYMBOL goes with --budget N or --match SPEC2")
    if args.train and not (args.flops or args.macs):
        parser.error("--train goes with --flops or --macs")
    if args.plot_range and not args.plot:
        parser.error("--range goes with --plot FILE")
    if args.jobs is not None and args.spec not in (None, "-"):
        parser.error("--jobs goes with -, a batch of specs on standard input")
    if args.jobs is not None and args.jobs > 1 and args.plot:
        parser.error("--plot draws one file: a batch with --plot runs in one process")
    if args.plot and (args.json or args.latex or args.markdown or args.explain):
        parser.error("--plot draws a file beside the text table, not --json, --latex, --markdown or --explain")
    if args.plot and (args.budget or args.match or args.leading or args.compare):
        parser.error("--plot goes with a count, not --budget, --match, --leading or --compare")
    if args.plot and (args.flops or args.macs) and args.memory:
        parser.error("--plot draws one measure: --flops, --macs or --memory")
    if (args.dtype != "fp32" or args.optimizer != "none") and not args.memory:
        parser.error("--dtype and --optimizer go with --memory")
    if args.memory and args.standalone:
        parser.error("--memory goes with --latex, not --standalone")
    if (args.flops or args.macs) and args.explain and args.json:
        parser.error("--explain --json gives the terms; --flops --json gives the FLOPs of every layer")
    if (args.flops or args.macs) and args.standalone:
        parser.error("--flops and --macs go with --latex, not --standalone")
    if (args.flops or args.macs or args.memory) and (args.budget or args.match or args.leading or args.compare):
        parser.error("--flops, --macs and --memory go with a count, not --budget, --match, --leading or --compare")
    if (args.budget or args.match or args.leading) and args.markdown:
        parser.error("--budget, --match and --leading print text, --json or --latex")
    if args.convention is not None and not args.convention.strip():  # not the default: a name left out
        parser.error(f"argument -c/--convention: expected one of {', '.join(CONVENTIONS)}, not an empty name")
    texts = {"-c/--convention": args.convention, "--compare": args.compare, "--match": args.match}
    texts.update({"--solve": args.solve, "--leading": args.leading})  # (a SPEC's error, with a caret, is _run's)
    for flag, value in texts.items():
        if value is not None and _SURROGATE.search(value):
            parser.error(f"argument {flag}: not valid UTF-8: {value!r}")
    bound: dict[str, int] = {}
    for name, value in args.set:
        if bound.setdefault(name, value) != value:
            parser.error(f"argument -s/--set: {name} is bound twice, to {bound[name]} and to {value}")
    args.set = list(bound.items())


# --- derive check FILE ------------------------------------------------------------------------

CHECK_EPILOG = """\
A table is tab-separated, with the columns spec, convention, exact, stated, source (exact or
stated may be empty) and optionally category, or a .toml file of [[case]] tables with the same
keys. A stated figure holds when the exact count, rounded to the precision printed (21.3M: to
the nearest 0.1M), equals it; a figure without a suffix is exact.

exit status: 0 every row holds, 1 a row disagrees (or its spec cannot be counted),
2 a malformed file or a usage error, 130 interrupted

examples:
  derive check published.tsv
  derive check paper.toml --markdown >> "$GITHUB_STEP_SUMMARY"
"""


def build_check_parser() -> argparse.ArgumentParser:
    """The argument parser of ``derive check``."""
    parser = argparse.ArgumentParser(
        prog="derive check",
        description="Check a table of published parameter counts: count each spec, and hold it to the "
        "figures printed beside it.",
        epilog=CHECK_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("file", metavar="FILE", help="the table: .toml, or tab-separated columns")
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="print one JSON object: file, cases, held, failed")
    output.add_argument("--markdown", action="store_true", help="print a GitHub Markdown table, for a CI job summary")
    _add_jobs(
        parser,
        "count the rows in N processes (0: one per CPU; by default one per 500 rows, at most one per CPU "
        "and 8); the report is the same, in the same order",
    )
    return parser


def _add_jobs(parser: argparse.ArgumentParser, help: str) -> None:
    """``-j N``, ``--jobs N``: how many processes share the work (``None`` when not given)."""
    parser.add_argument("-j", "--jobs", type=_jobs, default=None, metavar="N", help=help)


def _jobs(text: str) -> int:
    """``--jobs N``: a whole number of processes, 0 for one per CPU."""
    try:
        jobs = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of processes, not {text!r}") from None
    if jobs < 0:
        raise argparse.ArgumentTypeError(f"expected 0 (one per CPU) or more processes, not {jobs}")
    if jobs:
        return jobs
    from .parallel import usable_cpus

    return usable_cpus()


def check_main(argv: Sequence[str], stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    """Run ``derive check`` with ``argv`` (the words after ``check``); return the exit status.

    0 when every row holds, 1 when a row disagrees or its spec cannot be counted, 2 for a
    malformed file (the message, with the file and line, goes to ``stderr``) or a usage error,
    130 when interrupted (Ctrl-C), without a traceback.
    """
    stdout, stderr = stdout or sys.stdout, stderr or sys.stderr
    parser = build_check_parser()
    try:  # argparse exits for --help and usage errors: return its status instead
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            args = parser.parse_args(argv)
    except SystemExit as exit:
        return exit.code if isinstance(exit.code, int) else 2
    try:
        from .check import stream

        form = "json" if args.json else "markdown" if args.markdown else "text"
        progress = stderr if _interactive(stderr) else None
        failed = stream.run(args.file, stdout, form, jobs=args.jobs, progress=progress)
    except DeriveError as error:
        stderr.write(error.render() + "\n")
        return 2
    except KeyboardInterrupt:
        return 130
    return 0 if failed == 0 else 1


def _interactive(stream: TextIO) -> bool:
    """Whether ``stream`` is a terminal (where a progress line may be shown)."""
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
