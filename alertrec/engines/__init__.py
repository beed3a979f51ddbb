"""Where the per-account work runs: the local process pool or Spark's executors.

Both engines run the same module-level tasks of :mod:`alertrec.engines.tasks` over the
same accounts, biggest first, and return the tasks' summaries in task order; only the
place differs. The staging area (:mod:`alertrec.engines.staging`) carries the data.
"""

from __future__ import annotations

from alertrec.engines.local import run_local
from alertrec.engines.staging import StagingArea, prepared_path, result_path
from alertrec.engines.tasks import AccountTask, AccountTooLarge, finish_task, prepare_task

__all__ = [
    "AccountTask",
    "AccountTooLarge",
    "StagingArea",
    "finish_task",
    "prepare_task",
    "prepared_path",
    "result_path",
    "run_local",
]
