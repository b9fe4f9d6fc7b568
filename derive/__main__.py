"""The ``derive`` command and ``python -m derive``: the process around :func:`derive.cli.main`.

It imports the CLI (and with it SymPy, most of the start-up time) inside its own ``try``, so that
Ctrl-C at any moment ends the command with status 130 and no traceback; and once the command is
done, it makes sure that output which cannot be written (a closed pipe, a full disk) is not
reported a second time by the interpreter as it exits.
"""

from __future__ import annotations

import contextlib
import os
import sys

INTERRUPTED = 130  # 128 + SIGINT, as a shell reports a command stopped by Ctrl-C


def run() -> None:
    """Run ``derive`` with the process's arguments and streams, then exit with its status."""
    try:
        from .cli import main

        status = main()
    except KeyboardInterrupt:
        status = INTERRUPTED
    _settle_stdout()
    sys.exit(status)


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
