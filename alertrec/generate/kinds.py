"""The domain the worlds are made of: alert kinds, their failure modes and effective steps.

Static recipes only (titles with ``{svc}``, query templates with literal markers
such as ``<host>``); :mod:`alertrec.generate.catalog` instantiates them per
account and service.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

import numpy as np

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Dash:
    title: str  # may contain {svc}


@dataclass(frozen=True)
class _Query:
    language: str
    index: str
    terms: tuple[str, ...]  # may contain {svc} and literal markers <host>, <pod>, ...
    head: str = ""
    tail: str = ""

    @property
    def joiner(self) -> str:
        return " and " if self.language == "dql" else " AND "


@dataclass(frozen=True)
class _Mode:
    cause: str
    steps: tuple[_Dash | _Query, ...]


@dataclass(frozen=True)
class _Kind:
    title: str
    severities: tuple[str, ...]
    modes: tuple[_Mode, ...]


def _lucene(*terms: str, index: str = "logs-*") -> _Query:
    return _Query("lucene", index, terms)


def _dql(source: str, *terms: str) -> _Query:
    return _Query("dql", source, terms, head=f"fetch {source} | filter ", tail=" | sort timestamp desc | limit 100")


def _sql(head: str, *terms: str, tail: str = "", index: str = "warehouse") -> _Query:
    return _Query("sql", index, terms, head=head, tail=tail)


_OVERVIEW = _Dash("Service overview: {svc}")
_DEPLOYS = _Dash("Deployments: {svc}")
_DEPS = _Dash("Dependencies: {svc}")
_WORKLOADS = _Dash("Kubernetes workloads: {svc}")
_LATENCY = _Dash("Latency breakdown: {svc}")

_KINDS: tuple[_Kind, ...] = (
    _Kind(
        "High 5xx rate on {svc}",
        ("HIGH", "SEVERE"),
        (
            _Mode("bad deploy", (_OVERVIEW, _DEPLOYS, _lucene("service:{svc}", "level:error", "version:<hex>"))),
            _Mode(
                "database connection pool exhausted",
                (
                    _OVERVIEW,
                    _sql(
                        "SELECT count(*) FROM logs WHERE ",
                        "service = '{svc}'",
                        "message LIKE '%connection pool exhausted%'",
                        "host = '<host>'",
                    ),
                    _Dash("PostgreSQL: connections"),
                ),
            ),
            _Mode(
                "upstream dependency timing out",
                (_OVERVIEW, _dql("spans", 'service.name == "{svc}"', "duration > <ms>ms", 'status == "ERROR"'), _DEPS),
            ),
        ),
    ),
    _Kind(
        "p99 latency above SLO on {svc}",
        ("MEDIUM", "HIGH"),
        (
            _Mode(
                "slow database queries",
                (
                    _LATENCY,
                    _sql(
                        "SELECT statement, avg(duration_ms) FROM db_statements WHERE ",
                        "service = '{svc}'",
                        "duration_ms > <ms>",
                        tail=" GROUP BY statement ORDER BY 2 DESC LIMIT 20",
                    ),
                    _Dash("PostgreSQL: slow queries"),
                ),
            ),
            _Mode(
                "GC pauses",
                (
                    _LATENCY,
                    _Dash("JVM: {svc}"),
                    _lucene("service:{svc}", 'message:"GC pause"', "kubernetes.pod.name:<pod>"),
                ),
            ),
            _Mode(
                "noisy neighbour on the node",
                (
                    _LATENCY,
                    _lucene("kubernetes.node.name:<host>", "level:warn", index="k8s-events-*"),
                    _Dash("Kubernetes nodes"),
                ),
            ),
        ),
    ),
    _Kind(
        "Kafka consumer lag on {svc}",
        ("MEDIUM", "HIGH"),
        (
            _Mode(
                "stuck partition",
                (
                    _Dash("Kafka: consumer groups"),
                    _dql("logs", 'service == "{svc}"', "partition == <partition>", 'loglevel == "ERROR"'),
                ),
            ),
            _Mode(
                "poison message",
                (
                    _Dash("Kafka: consumer groups"),
                    _lucene("service:{svc}", 'message:"deserialization failed"', "kafka.offset:<offset>"),
                    _sql("SELECT * FROM dead_letters WHERE ", "topic = '{svc}-events'", "message_id = '<uuid>'"),
                ),
            ),
            _Mode(
                "broker under-replicated",
                (_Dash("Kafka: brokers"), _lucene("service:kafka", 'message:"under replicated"', "host:<host>")),
            ),
        ),
    ),
    _Kind(
        "Pod restarts in {svc}",
        ("MEDIUM", "HIGH"),
        (
            _Mode(
                "OOMKilled",
                (
                    _WORKLOADS,
                    _lucene("kubernetes.pod.name:<pod>", 'reason:"OOMKilled"', index="k8s-events-*"),
                    _Dash("Memory: {svc}"),
                ),
            ),
            _Mode(
                "failing liveness probe",
                (_WORKLOADS, _dql("events", 'k8s.pod.name == "<pod>"', 'reason == "Unhealthy"')),
            ),
            _Mode(
                "crash on bad config",
                (
                    _WORKLOADS,
                    _lucene("service:{svc}", "level:fatal", "kubernetes.pod.name:<pod>"),
                    _Dash("Config changes"),
                ),
            ),
        ),
    ),
    _Kind(
        "Disk usage above 90% on {svc}-db",
        ("HIGH", "SEVERE"),
        (
            _Mode(
                "WAL growth",
                (
                    _Dash("PostgreSQL: storage"),
                    _sql(
                        "SELECT ts, value FROM metrics WHERE ",
                        "host = '<host>'",
                        "metric = 'pg_wal_size_bytes'",
                        "ts > '<ts>'",
                        tail=" ORDER BY ts",
                    ),
                ),
            ),
            _Mode(
                "log rotation broken",
                (
                    _Dash("Host: filesystem"),
                    _lucene("host:<host>", 'log.file.path:"/var/log/postgresql"', "level:error"),
                ),
            ),
        ),
    ),
    _Kind(
        "Error log spike in {svc}",
        ("LOW", "MEDIUM"),
        (
            _Mode(
                "null pointer after a release",
                (
                    _Dash("Logs: {svc}"),
                    _lucene("service:{svc}", "level:error", 'error.type:"NullPointerException"'),
                    _DEPLOYS,
                ),
            ),
            _Mode(
                "third-party API errors",
                (
                    _Dash("Logs: {svc}"),
                    _dql("logs", 'service == "{svc}"', 'net.peer.ip == "<ip>"', "http.status_code >= <status>"),
                    _DEPS,
                ),
            ),
            _Mode(
                "expired auth tokens",
                (_lucene("service:{svc}", 'message:"token expired"', "user.id:<uuid>"), _Dash("Auth: tokens")),
            ),
        ),
    ),
    _Kind(
        "CPU throttling on {svc}",
        ("LOW", "MEDIUM"),
        (
            _Mode(
                "CPU limits too low",
                (
                    _WORKLOADS,
                    _Dash("CPU: {svc}"),
                    _sql(
                        "SELECT pod, max(throttled_ratio) FROM container_metrics WHERE ",
                        "service = '{svc}'",
                        "ts > '<ts>'",
                        tail=" GROUP BY pod ORDER BY 2 DESC",
                    ),
                ),
            ),
            _Mode(
                "hot loop in a new version",
                (
                    _Dash("CPU: {svc}"),
                    _lucene("service:{svc}", "version:<hex>", "level:warn"),
                    _Dash("Profiling: {svc}"),
                ),
            ),
        ),
    ),
    _Kind(
        "Queue depth growing on {svc}",
        ("MEDIUM",),
        (
            _Mode(
                "worker pool too small",
                (
                    _Dash("Queues: {svc}"),
                    _dql("logs", 'service == "{svc}"', 'queue == "{svc}-jobs"', 'worker.id == "<hex>"'),
                ),
            ),
            _Mode(
                "downstream rate limiting",
                (
                    _Dash("Queues: {svc}"),
                    _lucene("service:{svc}", "http.status_code:<status>", "client.ip:<ip>"),
                    _DEPS,
                ),
            ),
        ),
    ),
    _Kind(
        "Failed logins spike on {svc}",
        ("HIGH",),
        (
            _Mode(
                "credential stuffing",
                (
                    _Dash("Security: logins"),
                    _lucene("service:{svc}", "event.outcome:failure", "source.ip:<ip>"),
                    _sql(
                        "SELECT source_ip, count(*) FROM auth_events WHERE ",
                        "outcome = 'failure'",
                        "ts > '<ts>'",
                        tail=" GROUP BY source_ip ORDER BY 2 DESC LIMIT 50",
                    ),
                ),
            ),
            _Mode(
                "identity provider outage",
                (_DEPS, _lucene("service:{svc}", 'message:"idp unavailable"', "trace.id:<trace>")),
            ),
        ),
    ),
    _Kind(
        "Synthetic check failing for {svc}",
        ("HIGH", "SEVERE"),
        (
            _Mode(
                "expired TLS certificate",
                (
                    _Dash("Synthetics: {svc}"),
                    _lucene(
                        'check.name:"{svc} homepage"', 'error.message:"certificate has expired"', index="synthetics-*"
                    ),
                ),
            ),
            _Mode(
                "DNS misconfiguration",
                (
                    _Dash("Synthetics: {svc}"),
                    _dql("synthetics", 'check == "{svc}"', 'resolver.ip == "<ip>"'),
                    _Dash("Network: DNS"),
                ),
            ),
        ),
    ),
)

# Popular items every account has; novices wander through them (Zipf weights).
_POPULAR: tuple[_Dash | _Query, ...] = (
    _Dash("Infrastructure overview"),
    _Dash("All services: golden signals"),
    _lucene("level:error"),
    _Dash("Kubernetes cluster"),
    _lucene("level:error", "env:prod"),
    _Dash("On-call home"),
    _sql(
        "SELECT service, count(*) FROM logs WHERE ",
        "level = 'error'",
        "ts > '<ts>'",
        tail=" GROUP BY service ORDER BY 2 DESC",
    ),
    _Dash("Error budget burn"),
    _dql("logs", 'loglevel == "ERROR"', 'host == "<host>"'),
)
_POPULAR_WEIGHTS = 1.0 / np.arange(1, len(_POPULAR) + 1)

_SERVICES = (
    "api",
    "checkout",
    "orders",
    "payments",
    "auth",
    "search",
    "cart",
    "inventory",
    "gateway",
    "billing",
    "notifications",
    "shipping",
    "catalog",
    "users",
    "ledger",
)
_MAX_DEFINITIONS = len(_KINDS) * len(_SERVICES)
_MAX_STEPS = max(len(m.steps) for k in _KINDS for m in k.modes)
_MODES_PER_DEF_P = (0.25, 0.45, 0.30)  # P(1, 2, 3 modes)
_PANEL_TYPES = ("timeseries", "table", "stat", "logs", "heatmap", "gauge", "bar")
_TIME_RANGES = (("now-15m", "now"), ("now-1h", "now"), ("now-6h", "now"), ("now-24h", "now"))
_COLD_TITLE_FORMS = ("{svc}-v2", "{svc}-canary", "new-{svc}")
_LITERAL_RE = re.compile(r"<(\w+)>")
_NUMBER_RANGES = {
    "status": (500, 504),
    "ms": (250, 5000),
    "partition": (0, 63),
    "offset": (1000, 9_999_999),
}
