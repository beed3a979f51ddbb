"""EMR step / spark-submit entry point: one call into alertrec.

    spark-submit --master yarn --deploy-mode cluster \
        --archives s3://bucket/envs/alertrec-env.tar.gz#environment \
        --conf spark.yarn.appMasterEnv.PYSPARK_PYTHON=./environment/bin/python \
        --conf spark.executorEnv.PYSPARK_PYTHON=./environment/bin/python \
        s3://bucket/jobs/run_day_step.py \
        --input s3://bucket/events --output s3://bucket/alertrec --date 2026-02-01

It runs ``alertrec cron`` (the nightly job under the day's lock, after the
day's input check; ``--no-lock`` / ``--no-input-check`` opt out) on the
master spark-submit was given, with the arguments of ``alertrec run`` plus
``--glue-database``/``--glue-table``.  Exit codes: docs/operations.md; the
step JSON and the packed environment: docs/emr.md.
"""

import sys

from alertrec.cli import spark_submit_main

if __name__ == "__main__":
    sys.exit(spark_submit_main(sys.argv[1:], command="cron"))
