"""Regenerate data/fixtures deterministically (same bytes every time).

Usage: ``python scripts/make_fixtures.py [OUT]`` (default: the repository's data/fixtures).
Equivalent to ``python -m tests.planted_fixtures --out data/fixtures`` from the repository's root:
the planted cases and their expected outcomes live with the tests (tests/planted_fixtures.py).
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

if __name__ == "__main__":
    sys.path.insert(0, str(REPO))  # tests/ is a package of the checkout, not of the wheel
    from tests.planted_fixtures import main

    out = sys.argv[1] if len(sys.argv) > 1 else str(REPO / "data" / "fixtures")
    sys.exit(main(["--out", out]))
