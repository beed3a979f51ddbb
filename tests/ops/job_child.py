"""Child process of the kill tests: run a jobs/ entry point, SIGKILL itself before writing a file.

    python -m tests.ops.job_child SUFFIX jobs/nightly.py ARGS...

Every storage the ops layer opens is wrapped so that the process kills itself
just before writing a path that ends with SUFFIX (e.g. ``_SUCCESS``: the day's
data files are written, its manifest is not).
"""

from __future__ import annotations

import runpy
import sys

from alertrec import ops
from alertrec.io import storage as storage_mod
from tests.ops.killing import KillingStorage


def main() -> None:
    suffix, script, *args = sys.argv[1:]
    real = storage_mod.storage_for

    def killing_storage_for(url, *a, **kw):
        return KillingStorage(real(url, *a, **kw), kill_before_write_of=suffix)

    ops.storage_for = killing_storage_for
    sys.argv = [script, *args]
    runpy.run_path(script, run_name="__main__")


if __name__ == "__main__":
    main()
