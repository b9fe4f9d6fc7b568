"""The examples in README.md and docs/ are run and compared with what they show.

Each ```console block holds ``$ derive ...`` commands and their output; ```pycon and
``>>>`` examples are run as doctests by pytest's --doctest-glob (see pyproject.toml).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import ROOT, Session, console_blocks

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def all_sessions() -> list[tuple[Path, Session]]:
    return [(path, s) for path in DOCS for s in console_blocks(path.read_text(encoding="utf-8"), path.name)]


def test_docs_have_examples() -> None:
    for path in DOCS:
        text = path.read_text(encoding="utf-8")
        assert "```console" in text or ">>> " in text, f"{path.name} has no tested example"


@pytest.mark.parametrize(("path", "session"), all_sessions(), ids=lambda x: getattr(x, "where", ""))
def test_console_example(path: Path, session: Session) -> None:
    run = session.run(path.parent)
    assert (run.out + run.err).rstrip("\n") == session.expected, session.where
