"""Importing the one module that imports mxnet changes no process-wide state (issue 12)."""

import subprocess
import sys

from tests.conftest import REPO


def test_importing_the_mxnet_ranker_leaves_the_environment_and_numpy_as_they_were():
    code = (
        "import os, numpy as np\n"
        "before = dict(os.environ)\n"
        "import alertrec.mxnet_ranker.net\n"
        "assert dict(os.environ) == before, set(os.environ.items()) ^ set(before.items())\n"
        "assert 'bool' not in np.__dict__\n"
        "alertrec.mxnet_ranker.net.mx.nd.ones((64, 64)).sum().asnumpy()\n"
    )
    env = {"PATH": "/usr/bin:/bin", "HOME": "/tmp"}
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    # and the engine is still the synchronous one (bit-reproducible training), started at import
    assert "using engine: NaiveEngine" in done.stderr, done.stderr[-2000:]
