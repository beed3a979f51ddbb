"""Regenerate data/fixtures deterministically (same bytes every time).

Usage: ``python scripts/make_fixtures.py [OUT]`` (default: the repository's data/fixtures).
Equivalent to ``python -m alertrec.generate fixtures --out data/fixtures``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from alertrec.generate import main

if __name__ == "__main__":
    out = sys.argv[1] if len(sys.argv) > 1 else str(Path(__file__).resolve().parents[1] / "data" / "fixtures")
    sys.exit(main(["fixtures", "--out", out]))
