"""alertrec: ranked dashboards and queries for each alert, learned from past investigations."""

from __future__ import annotations

__version__ = "0.1.0"
