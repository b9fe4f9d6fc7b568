"""The examples in README.md and docs/ are run and compared with what they show.

Each ```console block holds ``$ derive ...`` commands and their output; ```pycon and
``>>>`` examples are run as doctests by pytest's --doctest-glob (see pyproject.toml).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from conftest import ROOT, Session, console_blocks, transcript

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def all_sessions() -> list[tuple[Path, Session]]:
    return [(path, s) for path in DOCS for s in console_blocks(path.read_text(encoding="utf-8"), path.name)]


@pytest.fixture(scope="session", autouse=True)
def _update() -> None:
    """With DERIVE_UPDATE_GOLDEN=1, rewrite each example's output from derive (then read the diff)."""
    if os.environ.get("DERIVE_UPDATE_GOLDEN") != "1":
        return

    def block(match: re.Match[str]) -> str:
        commands = re.findall(r"^\$ (.*)$", match[1], re.M)
        return "```console\n" + "\n".join(transcript(c, ROOT) for c in commands) + "\n```"

    for path in DOCS:
        text = path.read_text(encoding="utf-8")
        path.write_text(re.sub(r"^```console\n(.*?)^```", block, text, flags=re.M | re.S), encoding="utf-8")


def test_docs_have_examples() -> None:
    for path in DOCS:
        text = path.read_text(encoding="utf-8")
        assert "```console" in text or ">>> " in text, f"{path.name} has no tested example"


@pytest.mark.parametrize(("path", "session"), all_sessions(), ids=lambda x: getattr(x, "where", ""))
def test_console_example(path: Path, session: Session) -> None:
    run = session.run(ROOT)  # as a reader would, from the repository's root
    assert (run.out + run.err).rstrip("\n") == session.expected, session.where


def repl_sessions() -> list[tuple[str, str | None, list[tuple[str, str]]]]:
    """The prompt sessions shown in ```text blocks: (where, convention, [(line typed, answer)])."""
    found = []
    for path in DOCS:
        for block in re.findall(r"^```text\n(.*?)^```", path.read_text(encoding="utf-8"), re.M | re.S):
            pairs = re.findall(r"^derive> (.*)\n((?:(?!derive>).*\n)*)", block, re.M)
            if not pairs:
                continue
            start = re.match(r"\$ derive(?: repl)?(?: (?:-c|--convention) (\S+))?", block)
            found.append((f"{path.name}: derive> {pairs[0][0]}", start[1] if start else None, pairs))
    return found


@pytest.mark.parametrize(
    ("where", "convention", "pairs"), repl_sessions(), ids=lambda x: x if isinstance(x, str) else ""
)
def test_repl_session_example(where: str, convention: str | None, pairs: list[tuple[str, str]]) -> None:
    from derive.repl import Session

    session = Session(convention=convention)
    for line, expected in pairs:
        assert session.handle(line).rstrip("\n") == expected.rstrip("\n"), f"{where}: derive> {line}"
