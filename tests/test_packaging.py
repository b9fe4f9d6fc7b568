"""The built wheel and sdist work when installed, from any directory.

Builds both with the PEP 517 front end, installs the wheel into a fresh virtual environment,
and runs ``derive`` and ``python -m derive`` from an unrelated directory: the grammar must be
found inside the installed package, and ``--version`` must match the package metadata.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import venv
import zipfile
from pathlib import Path

import pytest

from conftest import ROOT


def _run(*argv: str | Path, cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run([str(a) for a in argv], cwd=cwd, capture_output=True, text=True, env=env, check=False)
    assert done.returncode == 0, f"{argv}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    _run(sys.executable, "-m", "build", "--sdist", "--wheel", "--outdir", out, ROOT, cwd=out)
    return out


def test_wheel_and_sdist_carry_the_grammar(dist: Path) -> None:
    (wheel,) = dist.glob("derive-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "derive/grammar/derive.lark" in names
    assert "derive/grammar/derive.tables.json" in names  # the parser's tables, read without Lark
    assert "derive/py.typed" in names
    assert {f"derive/check/{part}.py" for part in ("__init__", "figures", "reader", "report")} <= set(names)
    (sdist,) = dist.glob("derive-*.tar.gz")
    with tarfile.open(sdist) as archive:
        assert any(name.endswith("/grammar/derive.lark") for name in archive.getnames())


def test_installed_wheel_runs_from_another_directory(dist: Path, tmp_path: Path) -> None:
    (wheel,) = dist.glob("derive-*.whl")
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    bindir = env_dir / ("Scripts" if os.name == "nt" else "bin")
    python = bindir / "python"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    _run(python, "-m", "pip", "install", "--quiet", wheel, cwd=tmp_path, env=env)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = _run(
        bindir / "derive", "in 205 -> lstm 700 x5 -> dense 205", "--convention", "graves2013", cwd=elsewhere, env=env
    )
    assert "total: 21,252,205 (21.3M)" in out
    out = _run(python, "-m", "derive", "in 39 -> lstm 1024 x3 -> dense 34", cwd=elsewhere, env=env)
    assert "total: 21,178,402 (21.2M)" in out
    version = _run(bindir / "derive", "--version", cwd=elsewhere, env=env).strip()
    metadata = _run(python, "-c", "import importlib.metadata as m; print(m.version('derive'))", cwd=elsewhere, env=env)
    assert version == f"derive {metadata.strip()}"
    location = _run(python, "-c", "import derive; print(derive.__file__)", cwd=elsewhere, env=env)
    assert str(env_dir) in location  # the installed copy, not the source tree
    # The installed tables match the installed grammar: a spec that parses never imports Lark.
    code = "import sys, derive; derive.count('in 3 -> lstm 2'); print(sorted(m for m in sys.modules if 'lark' in m))"
    assert _run(python, "-c", code, cwd=elsewhere, env=env).strip() == "[]"
