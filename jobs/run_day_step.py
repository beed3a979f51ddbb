"""EMR step / spark-submit entry point: one call into alertrec.

    spark-submit jobs/run_day_step.py --input s3://bucket/events --output s3://bucket/alertrec --date 2026-02-01

spark-submit provides the master and the resources; the arguments are those of
``alertrec run``.
"""

import sys

from alertrec.cli import main

if __name__ == "__main__":
    sys.exit(main(["run", *sys.argv[1:]]))
