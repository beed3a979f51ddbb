"""Recommendations during an investigation: serving folders, the next-step model, ``alertrec serve``.

* :func:`alertrec.serving.bundle.build_serving_files` -- the nightly run's serving folder
  ``ROOT/models/serving/dt=D/account=<id>/`` of one account, as file names and bytes (pure);
* :func:`load_bundle` / :class:`Bundle` -- load a serving folder, answer with events
  (the same answer as HTTP invoke; no mxnet is imported on this path);
* :mod:`alertrec.serving.app` -- the SageMaker multi-model HTTP routes (Starlette on uvicorn);
* :mod:`alertrec.serving.replay` -- step-by-step replay of held-out days.
"""

from __future__ import annotations

from alertrec.serving.model import BadRequest, Bundle, load_bundle

__all__ = ["Bundle", "BadRequest", "load_bundle"]
