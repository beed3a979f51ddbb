"""``alertrec serve``: the SageMaker multi-model container routes on Starlette/uvicorn.

Contract (``docs/contract.md``, "Serving"): a model is one account's serving folder.

==============================  ==============================================================
``GET /ping``                   200 when ready
``POST /models``                ``{"model_name", "url"}``: 200 loaded, 409 already loaded (or
                                loading), 404 no such folder, 507 no memory left for it, 400
``GET /models``                 ``{"models": [{"modelName", "modelUrl"}, ...]}``
``GET /models/<name>``          ``{"modelName", "modelUrl"}``; 404 if not loaded
``DELETE /models/<name>``       200 unloaded; 404 if not loaded
``POST /models/<name>/invoke``  :meth:`alertrec.serving.model.Bundle.recommend`; 400, 404
==============================  ==============================================================

Loaded models are bounded in number (``max_models``) and in estimated memory
(``max_memory_bytes``: the arrays and documents a bundle holds, :attr:`Bundle.memory_bytes`);
a load that does not fit evicts the least recently used models (``evict=True``, the
default: SageMaker reloads an evicted model on its next request) or, when eviction is off
or the model alone exceeds the ceiling, answers 507. A ``url`` is a local folder, a
``file://`` or an ``s3://`` prefix (:func:`alertrec.io.storage.storage_for`); a relative
path is taken under the server's ``--output`` root. Every request is logged as one JSON
line (logger ``alertrec.serving.access``). uvicorn stops on SIGTERM or SIGINT: it stops
accepting, lets the requests in flight finish, then the lifespan unloads the models.
A bad request gets its status and a JSON ``{"error": ...}``; nothing a client sends stops
the server (an unexpected failure is a 500 for that request only).
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from alertrec.errors import AlertrecError
from alertrec.serving.model import BadRequest, Bundle, BundleNotFound, load_bundle

log = logging.getLogger(__name__)
access_log = logging.getLogger("alertrec.serving.access")

__all__ = ["ServeSettings", "ModelRegistry", "create_app", "serve", "DEFAULT_PORT"]

DEFAULT_PORT = 8080  # SageMaker's container contract
DEFAULT_HOST = "127.0.0.1"
MAX_BODY_BYTES = 5 * 2**20


@dataclass(frozen=True)
class ServeSettings:
    """Settings of ``alertrec serve``.

    Parameters
    ----------
    root : str
        The output root (``--output``): relative model URLs are taken under it.
    max_models : int
        Loaded models at most.
    max_memory_bytes : int
        Ceiling of the loaded models' estimated memory.
    evict : bool
        Evict least recently used models to make room (else answer 507).
    """

    root: str = "./warehouse"
    max_models: int = 1000
    max_memory_bytes: int = 3 * 2**30
    evict: bool = True


class AlreadyLoaded(Exception):
    """A model of that name is loaded or loading (409)."""


class InsufficientMemory(Exception):
    """The model does not fit under the memory ceiling (507)."""


class ModelRegistry:
    """Loaded bundles by name, least recently used first; thread-safe.

    Parameters
    ----------
    max_models, max_memory_bytes, evict
        See :class:`ServeSettings`.
    loader : callable
        ``loader(url) -> Bundle`` (:func:`alertrec.serving.model.load_bundle`).
    """

    def __init__(
        self, max_models: int, max_memory_bytes: int, evict: bool = True, loader: Callable[[str], Bundle] = load_bundle
    ) -> None:
        self.max_models = max_models
        self.max_memory_bytes = max_memory_bytes
        self.evict = evict
        self.loader = loader
        self._models: OrderedDict[str, tuple[str, Bundle]] = OrderedDict()
        self._loading: set[str] = set()
        self._bytes = 0
        self._lock = threading.Lock()
        self.evictions = 0

    def load(self, name: str, url: str, location: str | None = None) -> Bundle:
        """Load ``location`` (default ``url``) as ``name``, listed with ``url``; raises
        AlreadyLoaded, BundleNotFound, InsufficientMemory."""
        with self._lock:
            if name in self._models or name in self._loading:
                raise AlreadyLoaded(f"model {name!r} is already loaded")
            self._loading.add(name)
        try:
            bundle = self.loader(location or url)
            need = bundle.memory_bytes
            with self._lock:
                if need > self.max_memory_bytes:
                    raise InsufficientMemory(
                        f"model {name!r} needs {need} bytes, more than the ceiling of {self.max_memory_bytes}"
                    )
                while self._models and (
                    len(self._models) >= self.max_models or self._bytes + need > self.max_memory_bytes
                ):
                    if not self.evict:
                        raise InsufficientMemory(
                            f"no memory left for model {name!r} ({need} bytes; {self._bytes} of "
                            f"{self.max_memory_bytes} used by {len(self._models)} models)"
                        )
                    old, (_, evicted) = self._models.popitem(last=False)
                    self._bytes -= evicted.memory_bytes
                    self.evictions += 1
                    log.info("evicted model %s (least recently used) to load %s", old, name)
                self._models[name] = (url, bundle)
                self._bytes += need
            return bundle
        finally:
            with self._lock:
                self._loading.discard(name)

    def get(self, name: str) -> tuple[str, Bundle]:
        """``(url, bundle)`` of a loaded model, now the most recently used; KeyError if none."""
        with self._lock:
            entry = self._models[name]
            self._models.move_to_end(name)
            return entry

    def peek(self, name: str) -> str:
        """The url of a loaded model (does not count as a use); KeyError if none."""
        with self._lock:
            return self._models[name][0]

    def unload(self, name: str) -> None:
        """Unload a model; KeyError if none."""
        with self._lock:
            _, bundle = self._models.pop(name)
            self._bytes -= bundle.memory_bytes

    def names(self) -> list[tuple[str, str]]:
        """``(name, url)`` of the loaded models, in load/use order."""
        with self._lock:
            return [(n, u) for n, (u, _) in self._models.items()]

    def clear(self) -> int:
        """Unload everything; returns how many were loaded."""
        with self._lock:
            n = len(self._models)
            self._models.clear()
            self._bytes = 0
            return n

    @property
    def memory_bytes(self) -> int:
        """Estimated bytes of the loaded models."""
        return self._bytes


def _json(status: int, obj: Any) -> Response:
    return Response(orjson.dumps(obj), status_code=status, media_type="application/json")


def _error(status: int, message: str) -> Response:
    return _json(status, {"error": message})


async def _body(request: Request) -> Any:
    raw = await request.body()
    if len(raw) > MAX_BODY_BYTES:
        raise BadRequest(f"request body over {MAX_BODY_BYTES} bytes")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise BadRequest("the request body is not valid JSON") from None


def _resolve(root: str, url: str) -> str:
    if "://" in url or os.path.isabs(url):
        return url
    if "://" in root:
        return root.rstrip("/") + "/" + url.lstrip("/")
    return os.path.join(root, url)


class AccessLog:
    """ASGI middleware: one JSON line per HTTP request (method, path, status, ms, bytes)."""

    state: Any  # the wrapped Starlette app's state (set by create_app)

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        t0 = time.perf_counter()
        info = {"status": 500, "bytes": 0}

        async def sending(message: dict) -> None:
            if message["type"] == "http.response.start":
                info["status"] = message["status"]
            elif message["type"] == "http.response.body":
                info["bytes"] += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            if access_log.isEnabledFor(logging.INFO):
                client = scope.get("client")
                access_log.info(
                    "%s",
                    orjson.dumps(
                        {
                            "method": scope.get("method"),
                            "path": scope.get("path"),
                            "status": info["status"],
                            "ms": round((time.perf_counter() - t0) * 1000, 3),
                            "bytes": info["bytes"],
                            "client": f"{client[0]}:{client[1]}" if client else None,
                        }
                    ).decode(),
                )


def create_app(settings: ServeSettings | None = None, registry: ModelRegistry | None = None) -> Any:
    """The ASGI application of ``alertrec serve`` (Starlette, wrapped in the access log).

    Parameters
    ----------
    settings : ServeSettings, optional
    registry : ModelRegistry, optional
        Made from ``settings`` when not given (tests pass one with a small ceiling).
    """
    settings = settings or ServeSettings()
    registry = registry or ModelRegistry(settings.max_models, settings.max_memory_bytes, settings.evict)

    async def ping(request: Request) -> Response:
        return _json(200, {"status": "ok", "models": len(registry.names())})

    async def load_model(request: Request) -> Response:
        try:
            body = await _body(request)
            if not isinstance(body, dict):
                raise BadRequest("the body must be a JSON object with 'model_name' and 'url'")
            name, url = body.get("model_name"), body.get("url")
            if not isinstance(name, str) or not name or "/" in name:
                raise BadRequest("'model_name' must be a non-empty string without '/'")
            if not isinstance(url, str) or not url:
                raise BadRequest("'url' must be a non-empty string")
        except BadRequest as exc:
            return _error(400, str(exc))
        try:
            await run_in_threadpool(registry.load, name, url, _resolve(settings.root, url))
        except AlreadyLoaded as exc:
            return _error(409, str(exc))
        except BundleNotFound as exc:
            return _error(404, str(exc))
        except InsufficientMemory as exc:
            return _error(507, str(exc))
        except AlertrecError as exc:
            return _error(400, str(exc))
        except (ValueError, KeyError) as exc:
            return _error(400, f"not a serving folder: {exc}")
        except Exception as exc:  # an unreadable store: the server goes on
            log.warning("could not load model %s from %s", name, url, exc_info=True)
            return _error(500, f"could not load {url}: {type(exc).__name__}: {exc}")
        return _json(200, {"modelName": name, "modelUrl": url, "status": "loaded"})

    async def list_models(request: Request) -> Response:
        return _json(200, {"models": [{"modelName": n, "modelUrl": u} for n, u in registry.names()]})

    async def get_model(request: Request) -> Response:
        name = request.path_params["name"]
        try:
            url = registry.peek(name)
        except KeyError:
            return _error(404, f"model {name!r} is not loaded")
        return _json(200, {"modelName": name, "modelUrl": url})

    async def unload_model(request: Request) -> Response:
        name = request.path_params["name"]
        try:
            registry.unload(name)
        except KeyError:
            return _error(404, f"model {name!r} is not loaded")
        return _json(200, {"modelName": name, "status": "unloaded"})

    async def invoke(request: Request) -> Response:
        name = request.path_params["name"]
        try:
            _, bundle = registry.get(name)
        except KeyError:
            return _error(404, f"model {name!r} is not loaded")
        try:
            body = await _body(request)
            if not isinstance(body, dict):
                raise BadRequest("the body must be a JSON object with 'alert_id' and 'events'")
            if "alert_id" not in body or "events" not in body:
                raise BadRequest("the body needs 'alert_id' and 'events'")
            answer = bundle.recommend(
                body["alert_id"], body["events"], top_k=body.get("top_k", 10), alert_title=body.get("alert_title")
            )
        except BadRequest as exc:
            return _error(400, str(exc))
        return _json(200, answer)

    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:  # Starlette's lifespan protocol
        log.info(
            "serving: ready (root %s, at most %d models, %d MiB)",
            settings.root,
            settings.max_models,
            settings.max_memory_bytes // 2**20,
        )
        yield
        n = registry.clear()
        log.info("serving: stopped, %d models unloaded", n)

    app = Starlette(
        routes=[
            Route("/ping", ping, methods=["GET"]),
            Route("/models", load_model, methods=["POST"]),
            Route("/models", list_models, methods=["GET"]),
            Route("/models/{name}", get_model, methods=["GET"]),
            Route("/models/{name}", unload_model, methods=["DELETE"]),
            Route("/models/{name}/invoke", invoke, methods=["POST"]),
        ],
        lifespan=lifespan,
    )
    app.state.registry = registry
    app.state.settings = settings
    wrapped = AccessLog(app)
    wrapped.state = app.state
    return wrapped


def serve(settings: ServeSettings, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> int:
    """Run the server until SIGTERM/SIGINT (uvicorn's graceful shutdown); returns 0.

    Parameters
    ----------
    settings : ServeSettings
    host, port : str, int
        Where to listen (SageMaker: ``0.0.0.0:8080``).
    """
    import uvicorn

    config = uvicorn.Config(
        create_app(settings),
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=30,
        lifespan="on",
        server_header=False,
    )
    log.info("serving on http://%s:%d", host, port)
    # uvicorn shuts down gracefully on SIGTERM/SIGINT, then re-raises the signal to the
    # handler that was there before it: make that one a no-op, so a clean stop exits 0
    stopped: list[int] = []
    previous = {
        s: signal.signal(s, lambda signum, frame: stopped.append(signum)) for s in (signal.SIGTERM, signal.SIGINT)
    }
    try:
        uvicorn.Server(config).run()
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    if stopped:
        log.info("serving: stopped by %s", signal.Signals(stopped[0]).name)
    return 0
