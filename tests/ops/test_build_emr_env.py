"""scripts/build_emr_env.sh builds a packed environment that runs alertrec (slow: pip installs everything)."""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.slow


def test_the_packed_environment_runs_alertrec_without_pyspark(tmp_path):
    constraints = tmp_path / "constraints.txt"
    frozen = subprocess.run(
        [sys.executable, "-m", "pip", "freeze", "--exclude-editable"], capture_output=True, text=True, check=True
    )
    constraints.write_text(frozen.stdout)
    base = sys.base_prefix  # stands for the nodes' /usr
    archive = tmp_path / "env.tar.gz"
    built = subprocess.run(
        [
            "scripts/build_emr_env.sh",
            "-o",
            str(archive),
            "-p",
            os.path.join(base, "bin", "python3.11"),
            "--python-prefix",
            base,
            "-c",
            str(constraints),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert built.returncode == 0, built.stderr[-3000:]
    assert built.stdout.strip() == str(archive)
    assert "environment ok: alertrec with" in built.stdout + built.stderr

    env_dir = tmp_path / "environment"  # what --archives ...#environment unpacks on a node
    with tarfile.open(archive) as tar:
        names = tar.getnames()
        tar.extractall(env_dir)
    assert not [n for n in names if "/site-packages/pyspark/" in n or "/site-packages/py4j/" in n]
    assert not [n for n in names if "venv_pack" in n]
    assert os.readlink(env_dir / "bin" / "python3.11") == os.path.join(base, "bin", "python3.11")
    run = subprocess.run(
        [
            str(env_dir / "bin" / "python"),
            "-c",
            "import alertrec, alertrec.sqlfiles, alertrec.io.publish, awswrangler, sys;"
            "print(alertrec.__file__.startswith(sys.prefix), len(alertrec.sqlfiles.list_statements()))",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert run.returncode == 0, run.stderr
    located, statements = run.stdout.split()
    assert located == "True" and int(statements) == len(list((REPO / "sql").glob("*.sql")))
