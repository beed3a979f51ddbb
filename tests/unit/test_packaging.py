"""sql/ ships inside the wheel: every statement loads from an installed build, not from the checkout."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from tests.conftest import REPO


def _clean_source(dest: Path) -> Path:
    """The files a build reads, without the checkout's build/ (setuptools would ship its stale files)."""
    import shutil

    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, dest / name)
    for name in ("alertrec", "sql"):
        shutil.copytree(REPO / name, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
    return dest


def test_every_sql_statement_loads_from_an_installed_wheel(tmp_path):
    wheels = tmp_path / "wheels"
    (tmp_path / "src").mkdir()
    source = _clean_source(tmp_path / "src")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(wheels), str(source)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    (wheel,) = wheels.glob("alertrec-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    shipped = sorted(Path(n).stem for n in names if n.startswith("alertrec/sql/") and n.endswith(".sql"))
    in_repo = sorted(p.stem for p in (REPO / "sql").glob("*.sql"))
    assert shipped == in_repo and shipped, (shipped, in_repo)
    # install into a bare folder and load each statement from there, away from the checkout
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--quiet", "--target", str(target), str(wheel)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    probe = (
        "import alertrec.sqlfiles as f, alertrec, sys; "
        "assert alertrec.__file__.startswith(sys.argv[1]), alertrec.__file__; "
        "names = f.list_statements(); "
        "print(len(names), sum(len(f.load_statement(n)) > 0 for n in names))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe, str(target)],
        cwd=tmp_path,
        env={"PYTHONPATH": str(target)},
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout.split()
    assert out == [str(len(in_repo)), str(len(in_repo))]
