"""Every package under alertrec/ is named in pyproject's ``[tool.setuptools] packages`` (else the wheel lacks it)."""

from __future__ import annotations

import tomllib

from tests.conftest import REPO


def test_every_subpackage_is_in_the_wheel_list():
    listed = set(tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {
        ".".join(init.parent.relative_to(REPO).parts)
        for init in (REPO / "alertrec").rglob("__init__.py")
        if "__pycache__" not in init.parts
    }
    assert found <= listed, sorted(found - listed)
    assert listed - found == {"alertrec.sql"}  # sql/ at the top, shipped as alertrec.sql
