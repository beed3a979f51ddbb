#!/usr/bin/env bash
# Build the packed Python environment that EMR runs alertrec with (docs/emr.md).
#
#   scripts/build_emr_env.sh [-o OUT.tar.gz] [-p PYTHON] [--python-prefix PREFIX] [-c CONSTRAINTS] [--docker IMAGE]
#
# It builds alertrec's wheel (the SQL files ship inside it), installs it with its dependencies
# into a fresh virtual environment -- except pyspark and py4j: on EMR the cluster's own Spark
# provides them, and a second copy of a different version would shadow it -- and packs that
# environment with venv-pack. Pass the archive to spark-submit with
#   --archives s3://.../alertrec-emr-env.tar.gz#environment
#   --conf spark.yarn.appMasterEnv.PYSPARK_PYTHON=./environment/bin/python   (cluster mode: the driver)
#   --conf spark.executorEnv.PYSPARK_PYTHON=./environment/bin/python         (the executors)
#
# The archive holds the packages, not the interpreter: its bin/python links to
# PREFIX/bin/python3.11 (--python-prefix, default /usr), which must exist on every node (an EMR
# bootstrap action installs it, see docs/emr.md). Compiled wheels must match the nodes' OS and CPU:
# build on Amazon Linux 2023 x86_64 (EMR 7.x), e.g. with --docker amazonlinux:2023.
#
#   -o, --output         the archive to write (default dist/alertrec-emr-env.tar.gz)
#   -p, --python         the Python 3.11 that builds the environment (default python3.11)
#   --python-prefix      where Python 3.11 lives on the EMR nodes (default /usr)
#   -c, --constraints    pin the dependencies to these versions, e.g. the tested ones:
#                        .venv/bin/pip freeze --exclude-editable > dist/constraints.txt
#   --docker IMAGE       build inside this container image instead (Amazon Linux: dnf installs python3.11)
# Relative paths are relative to the repository root.
set -euo pipefail
cd "$(dirname "$0")/.."

OUT="dist/alertrec-emr-env.tar.gz"
PYTHON="python3.11"
PREFIX="/usr"
IMAGE=""
CONSTRAINTS_FILE=""
while [ $# -gt 0 ]; do
  case "$1" in
    -o|--output) OUT="$2"; shift 2 ;;
    -p|--python) PYTHON="$2"; shift 2 ;;
    --python-prefix) PREFIX="$2"; shift 2 ;;
    -c|--constraints) CONSTRAINTS_FILE="$2"; shift 2 ;;
    --docker) IMAGE="$2"; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/{/^set/d;s/^# \{0,1\}//;p;}' "$0"; exit 0 ;;
    *) echo "build_emr_env.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

if [ -n "$IMAGE" ]; then
  command -v docker >/dev/null 2>&1 || { echo "build_emr_env.sh: --docker needs docker on PATH" >&2; exit 2; }
  mkdir -p "$(dirname "$OUT")"
  exec docker run --rm -v "$PWD":/src -w /src "$IMAGE" bash -c \
    "dnf install -y -q python3.11 python3.11-pip tar gzip >/dev/null && \
     scripts/build_emr_env.sh -o '$OUT' -p python3.11 --python-prefix '$PREFIX' ${CONSTRAINTS_FILE:+-c '$CONSTRAINTS_FILE'}"
fi

CONSTRAINTS=()
if [ -n "$CONSTRAINTS_FILE" ]; then
  [ -f "$CONSTRAINTS_FILE" ] || { echo "build_emr_env.sh: no constraints file $CONSTRAINTS_FILE" >&2; exit 2; }
  CONSTRAINTS=(-c "$(cd "$(dirname "$CONSTRAINTS_FILE")" && pwd)/$(basename "$CONSTRAINTS_FILE")")
fi
command -v "$PYTHON" >/dev/null 2>&1 || { echo "build_emr_env.sh: $PYTHON not found; pass -p PYTHON" >&2; exit 2; }
"$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "alertrec needs Python 3.11, got " + sys.version.split()[0])'

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
echo "building the environment in $WORK" >&2

"$PYTHON" -m venv "$WORK/env"
PIP=("$WORK/env/bin/python" -m pip --disable-pip-version-check --quiet)
"${PIP[@]}" install --upgrade pip wheel
rm -rf build/lib  # setuptools builds in the tree and would ship stale files of deleted modules
"${PIP[@]}" wheel --no-deps --wheel-dir "$WORK/wheels" .
"${PIP[@]}" install --no-deps "$WORK"/wheels/alertrec-*.whl

# alertrec's own requirements (not its extras), without the Spark that EMR brings
"$WORK/env/bin/python" - >"$WORK/requirements.txt" <<'PY'
import re
from importlib.metadata import requires

for req in requires("alertrec") or []:
    if "extra ==" in req:
        continue
    name = re.split(r"[\s<>=!~;\[(]", req, maxsplit=1)[0].lower()
    if name in ("pyspark", "py4j"):
        continue
    print(req)
PY
"${PIP[@]}" install -r "$WORK/requirements.txt" ${CONSTRAINTS[@]+"${CONSTRAINTS[@]}"}

# a smoke test inside the environment (away from the checkout, so the installed copy is the one imported)
(cd "$WORK" && "$WORK/env/bin/python" - <<'PY'
import importlib.resources
import sys

import alertrec

assert alertrec.__file__.startswith(sys.prefix), f"imported {alertrec.__file__}, not the environment's copy"

import alertrec.cli  # noqa: F401
import alertrec.io.publish  # noqa: F401
import alertrec.stages.rank  # noqa: F401
import awswrangler  # noqa: F401

sql = [p.name for p in importlib.resources.files("alertrec.sql").iterdir() if p.name.endswith(".sql")]
assert sql, "the wheel ships no SQL files"
print(f"environment ok: alertrec with {len(sql)} SQL files")
PY
) >&2

# venv-pack runs from its own small environment, so it is not packed
"$PYTHON" -m venv "$WORK/tools"
"$WORK/tools/bin/python" -m pip --disable-pip-version-check --quiet install venv-pack
# point the interpreter at the nodes' Python ourselves: venv-pack's --python-prefix rewrites the
# bin/python3.11 -> /base/bin/python3.11 link of a Python 3.11 venv into .../python3.113.11
ln -sfn "$PREFIX/bin/python3.11" "$WORK/env/bin/python3.11"
sed -i.orig -e "s#^home = .*#home = $PREFIX/bin#" -e "s#^executable = .*#executable = $PREFIX/bin/python3.11#" \
  "$WORK/env/pyvenv.cfg"
rm -f "$WORK/env/pyvenv.cfg.orig"
mkdir -p "$(dirname "$OUT")"
"$WORK/tools/bin/venv-pack" --prefix "$WORK/env" --output "$OUT" --force --quiet >&2
chmod 644 "$OUT"
[ -s "$OUT" ] || { echo "build_emr_env.sh: venv-pack wrote nothing to $OUT" >&2; exit 1; }
echo "wrote $OUT ($(du -h "$OUT" | cut -f1)); bin/python -> $PREFIX/bin/python3.11 on the nodes" >&2
echo "$OUT"
