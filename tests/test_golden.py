"""Golden transcripts: tests/golden/*.txt hold derive commands and exactly what they print.

Run with DERIVE_UPDATE_GOLDEN=1 to rewrite the files from the current output, then read the
diff: a golden file is only as good as the review of its changes.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from conftest import sessions, transcript

GOLDEN = Path(__file__).with_name("golden")
FILES = sorted(GOLDEN.glob("*.txt"))


def _cases() -> list[tuple[Path, object]]:
    return [(path, s) for path in FILES for s in sessions(path.read_text(encoding="utf-8"), path.name)]


@pytest.fixture(scope="session", autouse=True)
def _update() -> None:
    if os.environ.get("DERIVE_UPDATE_GOLDEN") != "1":
        return
    for path in FILES:
        text = path.read_text(encoding="utf-8")
        header = text.split("\n$ ")[0].rstrip("\n")
        out = [header, ""]
        for session in sessions(text, path.name):
            out += [transcript(session.command, GOLDEN), ""]
        path.write_text("\n".join(out), encoding="utf-8")


def test_golden_files_exist() -> None:
    assert {p.name for p in FILES} >= {"errors.txt", "output.txt", "explain.txt", "compare.txt", "latex.txt"}


@pytest.mark.parametrize(("path", "session"), _cases(), ids=lambda x: getattr(x, "where", ""))
def test_golden(path: Path, session) -> None:
    run = session.run(GOLDEN)
    assert "Traceback" not in run.err
    assert run.status == (2 if path.name == "errors.txt" else 0), run.err
    assert (run.out + run.err).rstrip("\n") == session.expected
