"""Nightly cron entry point: one call into alertrec.

    30 2 * * * cd /opt/alertrec && .venv/bin/python jobs/nightly.py \
        --input s3://bucket/events --output s3://bucket/alertrec >> /var/log/alertrec/nightly.log 2>&1

Runs ``alertrec cron``: the day defaults to today (UTC); the day's lock keeps
two runs of the same day from overlapping; a missing or empty input for the
day (``dt=D-1``) is exit code 3; logs go to stderr as plain lines.  Every exit
code and what a scheduler should do with it: docs/operations.md.
"""

import sys

from alertrec.cli import spark_submit_main

if __name__ == "__main__":
    sys.exit(spark_submit_main(sys.argv[1:], command="cron"))
