"""Load the Spark SQL statements shipped inside the package (``sql/*.sql`` → ``alertrec.sql``)."""

from __future__ import annotations

from functools import cache
from importlib import resources


def list_statements() -> list[str]:
    """Names (without ``.sql``) of every statement shipped with the package, sorted."""
    root = resources.files("alertrec.sql")
    return sorted(p.name[:-4] for p in root.iterdir() if p.name.endswith(".sql"))


@cache
def load_statement(name: str) -> str:
    """The text of ``sql/<name>.sql`` as installed.

    Parameters
    ----------
    name : str
        File name without the ``.sql`` suffix.

    Raises
    ------
    FileNotFoundError
        If no such statement is shipped.
    """
    path = resources.files("alertrec.sql").joinpath(name + ".sql")
    if not path.is_file():
        raise FileNotFoundError(f"no SQL statement {name!r} in alertrec.sql")
    return path.read_text(encoding="utf-8")
