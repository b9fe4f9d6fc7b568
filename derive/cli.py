"""CLI: ``derive SPEC`` and friends, a thin layer over :func:`derive.count`.

Exit status: 0 on success, 2 for a usage or DSL error (the message goes to standard error with
the line, column and a caret), 1 for anything else, which is a bug in derive.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import sys
from collections.abc import Iterable, Sequence
from typing import TextIO

from . import __version__
from .conventions import CONVENTIONS
from .derivation import compare, count
from .errors import DeriveError
from .parse import parse

EPILOG = """\
examples:
  derive "in 205 -> lstm 700 x5 -> dense 205"
  derive "in 205 -> lstm 700 x5 -> dense 205" --convention graves2013
  derive "in m -> lstm n" --set m=205 --set n=700
  derive "in 39 -> bilstm 512 x2 -> dense 34 using pytorch" --json
  derive "in 205 -> lstm 700 x5 -> dense 205" --explain
  derive "in 205 -> lstm 700 x5 -> dense 205" --compare keras,pytorch,graves2013
  derive "in m -> lstm n" --latex --standalone > count.tex
  derive - < specs.txt        (one spec per line)
  derive check table.tsv      (check a table of published counts; see docs/check.md)
  derive                      (an interactive prompt, on a terminal)

conventions: """ + ", ".join(CONVENTIONS)

_BINDING = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*([0-9](?:_?[0-9])*)\s*\Z")


def _binding(text: str) -> tuple[str, int]:
    match = _BINDING.match(text)
    if not match or int(match[2]) < 1:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE with a positive whole number, not '{text}'")
    return match[1], int(match[2])


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
        target = count(args.match, args.convention)
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
        return _budget(spec, args, strict, used)
    if args.compare is not None:
        names = [n.strip() for n in args.compare.split(",") if n.strip()] or None
        sizes = _sizes(args, (s.name for s in parse(spec).symbols), strict, used)
        comparison = compare(spec, names, sizes)
        return json.dumps(comparison.as_dict(), ensure_ascii=False) if args.json else comparison.text()
    result = count(spec, args.convention)
    sizes = _sizes(args, (s.name for s in result.symbols), strict, used)
    result = result.subs(**sizes) if sizes else result
    if args.explain:
        return json.dumps(result.explain_dict(), ensure_ascii=False) if args.json else result.explain()
    if args.json:
        return json.dumps(result.as_dict(), ensure_ascii=False)
    if args.latex:
        return result.latex(standalone=args.standalone)
    if args.markdown:
        return result.markdown()
    return result.text()


def _run(specs: Iterable[tuple[int, str]], args: argparse.Namespace, out: TextIO, err: TextIO, batch: bool) -> int:
    """Answer each spec: a result on standard output, or an error on standard error (and, in a
    batch with --json, an error object on standard output, so that every line has its answer)."""
    status = 0
    first = True
    used: set[str] = set()
    seen = False
    for number, spec in specs:
        seen = True
        try:
            shown = _show(spec, args, strict=not batch, used=used)
        except DeriveError as error:
            err.write(error.render(line_offset=number - 1) + "\n")
            status = 2
            if not (batch and args.json):
                continue
            place = (
                {"line": number, "column": None}
                if error.span is None
                else {
                    "line": error.span.line + number - 1,
                    "column": error.span.column,
                }
            )
            shown = json.dumps({"spec": spec, "error": {"message": error.message, **place}}, ensure_ascii=False)
        if not first and not args.json:
            out.write("\n")
        out.write(shown + "\n")
        first = False
    unused = [name for name, _ in args.set if name not in used]
    if batch and seen and unused and status == 0:  # a failed line may have been the one to use it
        err.write(
            f"error: --set {', '.join(unused)}: no spec uses {'this symbol' if len(unused) == 1 else 'these symbols'}\n"
        )
        status = 2
    return status


def _lines(stream: TextIO) -> Iterable[tuple[int, str]]:
    for number, line in enumerate(stream, 1):
        if line.strip() and not line.lstrip().startswith("#"):
            yield number, line.rstrip("\n")


def main(
    argv: Sequence[str] | None = None,
    *,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """Run ``derive`` with ``argv``; return the exit status."""
    stdin, stdout, stderr = stdin or sys.stdin, stdout or sys.stdout, stderr or sys.stderr
    words = list(sys.argv[1:] if argv is None else argv)
    if words[:1] == ["check"]:  # derive check FILE: its own exit status (1 means a row disagrees)
        return check_main(words[1:], stdout, stderr)
    parser = build_parser()
    try:  # argparse exits for --help, --version and usage errors: return its status instead
        args = parser.parse_args(argv)
        if args.standalone and not args.latex:
            parser.error("--standalone goes with --latex")
        if args.standalone and args.spec in (None, "-"):
            parser.error("--standalone makes one document: give one SPEC")
        if (args.explain or args.compare is not None) and (args.latex or args.markdown):
            parser.error("--explain and --compare print text or --json")
        if args.solve and not (args.budget or args.match):
            parser.error("--solve SYMBOL goes with --budget N or --match SPEC2")
        if (args.budget or args.match or args.leading) and args.markdown:
            parser.error("--budget, --match and --leading print text, --json or --latex")
    except SystemExit as exit:
        return exit.code if isinstance(exit.code, int) else 2
    try:
        if args.spec == "repl" or (args.spec is None and stdin.isatty()):
            from . import repl

            return repl.run(repl.Session(convention=args.convention), stdout=stdout)
        if args.spec in (None, "-"):
            return _run(_lines(stdin), args, stdout, stderr, batch=True)
        return _run([(1, args.spec)], args, stdout, stderr, batch=False)
    except DeriveError as error:  # e.g. derive repl --convention with an unknown name
        stderr.write(error.render() + "\n")
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as error:  # a bug: say so briefly, the traceback only on request
        if args.debug:
            raise
        stderr.write(
            f"derive: internal error: {type(error).__name__}: {error}\n"
            "This is a bug in derive; please report it with the command you ran (--debug shows the traceback).\n"
        )
        return 1


def run() -> None:
    """The console script's entry point."""
    sys.exit(main())


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
    return parser


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
        from . import check

        report = check.check_file(args.file)
        stdout.write((report.json() if args.json else report.markdown() if args.markdown else report.text()) + "\n")
    except DeriveError as error:
        stderr.write(error.render() + "\n")
        return 2
    except KeyboardInterrupt:
        return 130
    return 0 if report.failed == 0 else 1
