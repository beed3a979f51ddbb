"""A local run's copy of ``s3://`` input: just the window's partitions, in a bounded cache.

A local Spark (``local[*]``) has no S3 file system (the hadoop-aws jars are not on PyPI), so
:func:`alertrec.io.inputs.read_inputs` first calls :func:`copy_window`: the partitions
``alerts/dt=D/`` and ``actions/dt=D/`` of the run's ranges are copied with boto3 (the client
built as :mod:`alertrec.io.storage` builds its own: the endpoint from ``AWS_ENDPOINT_URL_S3`` /
``AWS_ENDPOINT_URL``, the same retries) into

``<cache_dir>/<sha1 of the s3 root>[:16]/{alerts,actions}/dt=D/<files>``

and the run reads that copy, checked like any local input. A file already cached with the same
size and ETag is not downloaded again; files gone from S3 are removed from the copy. Downloads go
to a temporary name and are renamed into place, so a killed run never leaves a half file under a
real name. The cache keeps a small index (``index.json``) of when each day was last used: after
the copy, the least recently used days of *other* runs are evicted until the cache is within
``max_bytes`` (the days the current run needs are never evicted; a window larger than the bound
is kept and logged).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlparse

from alertrec import schema as s
from alertrec.errors import InputError
from alertrec.io.aws import botocore_config
from alertrec.io.aws import describe as _s3_reason
from alertrec.io.storage import s3_endpoint_url

log = logging.getLogger(__name__)

__all__ = ["CACHE_DIR_NAME", "cache_root", "copy_window"]

CACHE_DIR_NAME = "alertrec-input-cache"
_INDEX = "index.json"
_META_DIR = ".meta"  # <copy>/.meta/<dataset>/dt=D.json: (size, etag) of each cached file, outside the data
_TMP = ".part-"


def cache_root(cache_dir: str | None = None) -> str:
    """The cache folder: ``cache_dir``, else ``alertrec-input-cache`` under the system temp dir."""
    return (
        os.path.abspath(os.path.expanduser(cache_dir))
        if cache_dir
        else os.path.join(tempfile.gettempdir(), CACHE_DIR_NAME)
    )


def _client(boto3_session: Any = None) -> Any:
    import boto3

    session = boto3_session if boto3_session is not None else boto3.Session()
    return session.client("s3", endpoint_url=s3_endpoint_url(), config=botocore_config())


def _day_folders(client: Any, bucket: str, prefix: str, dataset: str) -> list[str]:
    """The ``dt=`` values under ``prefix/dataset/`` (one delimiter listing)."""
    base = f"{prefix}/{dataset}/" if prefix else f"{dataset}/"
    days: list[str] = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=base, Delimiter="/"):
        for common in page.get("CommonPrefixes", []):
            name = common["Prefix"][len(base) :].strip("/")
            if name.startswith(f"{s.DT}="):
                days.append(name[len(s.DT) + 1 :])
    return sorted(days)


def _objects(client: Any, bucket: str, key_prefix: str) -> list[dict[str, Any]]:
    out = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=key_prefix):
        for obj in page.get("Contents", []):
            if not obj["Key"].endswith("/"):
                out.append({"key": obj["Key"], "size": int(obj["Size"]), "etag": str(obj.get("ETag", "")).strip('"')})
    return out


def _read_json(path: str) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def _write_json(path: str, data: dict[str, Any]) -> None:
    tmp = f"{path}.{uuid.uuid4().hex}.tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh, sort_keys=True)
    os.replace(tmp, path)


def _folder_bytes(path: str) -> int:
    total = 0
    for dirpath, _dirs, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.path.getsize(os.path.join(dirpath, name))
    return total


def _sync_day(client: Any, bucket: str, key_prefix: str, folder: str, meta_path: str) -> tuple[int, int]:
    """Mirror the objects under ``key_prefix`` into ``folder``; returns (downloaded, kept) counts."""
    objects = _objects(client, bucket, key_prefix)
    os.makedirs(folder, exist_ok=True)
    os.makedirs(os.path.dirname(meta_path), exist_ok=True)
    meta = _read_json(meta_path)
    wanted: dict[str, dict[str, Any]] = {}
    for obj in objects:
        rel = obj["key"][len(key_prefix) :].lstrip("/")
        if not rel or any(part in ("", ".", "..") for part in rel.split("/")):
            continue
        wanted[rel] = obj
    downloaded = kept = 0
    for rel, obj in sorted(wanted.items()):
        target = os.path.join(folder, *rel.split("/"))
        known = meta.get(rel)
        if (
            isinstance(known, dict)
            and known.get("size") == obj["size"]
            and known.get("etag") == obj["etag"]
            and os.path.isfile(target)
            and os.path.getsize(target) == obj["size"]
        ):
            kept += 1
            continue
        os.makedirs(os.path.dirname(target), exist_ok=True)
        tmp = os.path.join(os.path.dirname(target), f"{_TMP}{uuid.uuid4().hex}")
        try:
            client.download_file(bucket, obj["key"], tmp)
            os.replace(tmp, target)
        finally:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        meta[rel] = {"size": obj["size"], "etag": obj["etag"]}
        downloaded += 1
    for dirpath, _dirs, files in os.walk(folder):  # files gone from S3 leave the copy too
        for name in files:
            rel = os.path.relpath(os.path.join(dirpath, name), folder).replace(os.sep, "/")
            if rel not in wanted:
                with contextlib.suppress(OSError):
                    os.unlink(os.path.join(dirpath, name))
                meta.pop(rel, None)
    _write_json(meta_path, {k: v for k, v in meta.items() if k in wanted})
    return downloaded, kept


def copy_window(
    root: str,
    ranges: dict[str, tuple[str, str]],
    *,
    cache_dir: str | None = None,
    max_bytes: int = 20 * 1024**3,
    boto3_session: Any = None,
    threads: int = 8,
) -> str:
    """Copy the partitions of ``ranges`` under the S3 ``root`` into the local cache.

    Parameters
    ----------
    root : str
        ``s3://bucket/prefix`` holding ``alerts/`` and ``actions/``.
    ranges : dict
        ``{dataset: (dt_from, dt_to)}``, inclusive, as :func:`alertrec.io.inputs.read_inputs`
        computes them.
    cache_dir : str, optional
        The cache folder (:func:`cache_root`).
    max_bytes : int
        Bound of the cache after the copy (least recently used other days are evicted).
    boto3_session : boto3.Session, optional
        The AWS session to use; boto3's default otherwise.
    threads : int
        Days copied at once.

    Returns
    -------
    str
        The local root holding ``alerts/`` and ``actions/`` (only the window's partitions; a
        dataset with no partition in S3 has an empty folder or none).

    Raises
    ------
    InputError
        One line when the bucket or prefix cannot be listed or a file cannot be downloaded.
    """
    parsed = urlparse(root)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise InputError(f"not an S3 URL with a bucket: {root!r}; use s3://bucket/prefix")
    bucket, prefix = parsed.netloc, parsed.path.strip("/")
    cache = cache_root(cache_dir)
    local = os.path.join(cache, hashlib.sha1(f"s3://{bucket}/{prefix}".encode()).hexdigest()[:16])
    client = _client(boto3_session)
    started = time.monotonic()
    jobs: list[tuple[str, str]] = []
    try:
        for dataset, (dt_from, dt_to) in sorted(ranges.items()):
            os.makedirs(os.path.join(local, dataset), exist_ok=True)
            remote = [d for d in _day_folders(client, bucket, prefix, dataset) if dt_from <= d <= dt_to]
            jobs.extend((dataset, day) for day in remote)
            for entry in os.scandir(os.path.join(local, dataset)):  # days gone from S3 leave the copy
                day = entry.name[len(s.DT) + 1 :]
                if entry.name.startswith(f"{s.DT}=") and dt_from <= day <= dt_to and day not in remote:
                    shutil.rmtree(entry.path, ignore_errors=True)
    except OSError as exc:
        raise InputError(f"cannot create the input cache {local}: {exc.strerror or exc}") from exc
    except Exception as exc:
        raise InputError(f"cannot list the input {root}: {_s3_reason(exc)}") from exc

    def sync(job: tuple[str, str]) -> tuple[int, int]:
        dataset, day = job
        key_prefix = "/".join(p for p in (prefix, dataset, f"{s.DT}={day}") if p) + "/"
        return _sync_day(
            client,
            bucket,
            key_prefix,
            os.path.join(local, dataset, f"{s.DT}={day}"),
            os.path.join(local, _META_DIR, dataset, f"{s.DT}={day}.json"),
        )

    try:
        with ThreadPoolExecutor(max_workers=max(1, min(threads, len(jobs) or 1)), thread_name_prefix="s3copy") as pool:
            counts = list(pool.map(sync, jobs))
    except OSError as exc:
        raise InputError(f"cannot copy {root} into the input cache {local}: {exc.strerror or exc}") from exc
    except Exception as exc:
        raise InputError(f"cannot copy the input {root}: {_s3_reason(exc)}") from exc
    downloaded = sum(c[0] for c in counts)
    kept = sum(c[1] for c in counts)
    log.info(
        "copied %d day(s) of %s into %s: %d file(s) downloaded, %d already cached (%.1f s)",
        len(jobs),
        root,
        local,
        downloaded,
        kept,
        time.monotonic() - started,
    )
    _touch_and_evict(cache, local, jobs, max_bytes)
    return local


def _touch_and_evict(cache: str, local: str, jobs: list[tuple[str, str]], max_bytes: int) -> None:
    """Record the days just used; evict the least recently used other days beyond ``max_bytes``."""
    index_path = os.path.join(cache, _INDEX)
    index = _read_json(index_path)
    days = index.get("days")
    if not isinstance(days, dict):
        days = {}
    now = time.time()
    current = set()
    for dataset, day in jobs:
        folder = os.path.join(local, dataset, f"{s.DT}={day}")
        current.add(folder)
        days[folder] = {"last_used": now, "bytes": _folder_bytes(folder)}
    for folder in list(days):  # forget days removed by hand
        if not os.path.isdir(folder):
            days.pop(folder)
    total = sum(int(v.get("bytes", 0)) for v in days.values())
    for folder, entry in sorted(days.items(), key=lambda kv: float(kv[1].get("last_used", 0))):
        if total <= max_bytes:
            break
        if folder in current:
            continue
        shutil.rmtree(folder, ignore_errors=True)
        dataset_dir, day_dir = os.path.split(folder)
        copy_dir, dataset = os.path.split(dataset_dir)
        with contextlib.suppress(OSError):
            os.unlink(os.path.join(copy_dir, _META_DIR, dataset, f"{day_dir}.json"))
        total -= int(entry.get("bytes", 0))
        days.pop(folder)
        log.info("input cache: evicted %s (least recently used)", folder)
    if total > max_bytes:
        log.warning(
            "input cache %s holds %d bytes, more than its bound of %d: the run's window alone is that big",
            cache,
            total,
            max_bytes,
        )
    index["days"] = days
    try:
        _write_json(index_path, index)
    except OSError:
        log.warning("could not write the input cache index %s", index_path, exc_info=True)
