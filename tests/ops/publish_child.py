"""Child process of the kill tests: publish one day, SIGKILL itself at a chosen storage call.

    python -m tests.ops.publish_child OUTPUT TAG RUN_ID KILL_AT [before|midway|after]

Prints ``calls=N`` (the mutating storage calls it made) when it was not killed.
"""

from __future__ import annotations

import datetime as dt
import sys

from alertrec.io.publish import publish_day
from alertrec.io.storage import storage_for
from tests.ops.killing import KillingStorage
from tests.unit.test_publish import recs


def main(argv: list[str]) -> int:
    output, tag, run_id, kill_at = argv[:4]
    when = argv[4] if len(argv) > 4 else "before"
    storage = KillingStorage(storage_for(output), kill_at=int(kill_at), when=when)
    publish_day(storage, recs(tag, n=3 + len(tag) % 3), dt.date(2026, 2, 1), run_id)
    print(f"calls={len(storage.calls)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
