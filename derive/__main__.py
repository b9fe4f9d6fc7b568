"""The ``derive`` command and ``python -m derive``: the process around :func:`derive.cli.main`.

It imports the CLI (and with it SymPy, most of the start-up time) inside its own ``try``, so that
Ctrl-C at any moment ends the command with status 130 and no traceback; and once the command is
done, it makes sure that output which cannot be written (a closed pipe, a full disk) is not
reported a second time by the interpreter as it exits.

Start and end cost more than a count. SymPy's import allocates some 10^5 objects that live as
long as the process: the garbage collector is off while they are made, and they are then frozen
out of its reach (``gc.freeze``), so that no collection walks them again. A one-shot command
then leaves with ``os._exit`` once its output is flushed, skipping the interpreter's teardown
(a last collection over every object, another ~75 ms); nothing is left to do at exit: derive
writes no temporary files and starts no threads, and its status is kept. The interactive prompt,
whose library may register work for the exit, leaves the ordinary way.
"""

from __future__ import annotations

import contextlib
import gc
import os
import sys
import threading

INTERRUPTED = 130  # 128 + SIGINT, as a shell reports a command stopped by Ctrl-C


def run() -> None:
    """Run ``derive`` with the process's arguments and streams, then exit with its status."""
    try:
        gc.disable()
        try:
            from .cli import main
        finally:
            gc.freeze()
            gc.enable()
        status = main()
    except KeyboardInterrupt:
        status = INTERRUPTED
    _settle_stdout()
    if _may_leave_at_once():
        with contextlib.suppress(OSError, ValueError):
            sys.stderr.flush()
        os._exit(status)
    sys.exit(status)


def _may_leave_at_once() -> bool:
    """Whether nothing is left for the interpreter to do at exit: no prompt was shown, no other
    thread runs, and standard error can be flushed."""
    if "derive.repl" in sys.modules or threading.active_count() > 1:
        return False
    return sys.stderr is not None


def _settle_stdout() -> None:
    """Flush standard output; if that fails, send what is left to the null device, since the
    failure has been reported already (or, for a closed pipe, needs no report)."""
    stdout = sys.stdout
    if stdout is None:
        return
    try:
        stdout.flush()
    except (OSError, ValueError):
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), stdout.fileno())


if __name__ == "__main__":
    run()
