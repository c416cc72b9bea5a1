"""`ptrace --metrics [HOST:]PORT`: a script's maps as Prometheus metrics at /metrics.

The maps are read when Prometheus scrapes, in the HTTP server's thread (the
run's session reads them under its lock; see `ptrace.live.LiveSession`), never
polled: the event loop never waits for a scrape. Each map is one metric family:

| map value | metric |
|---|---|
| count(), sum() | counter `ptrace_NAME_total` |
| min(), max(), avg(), integers, bools | gauge `ptrace_NAME` |
| tseries() | gauge `ptrace_NAME`: the value of the key's latest interval |
| stats() | summary: `ptrace_NAME_count`, `ptrace_NAME_sum` |
| hist(), lhist() | histogram: cumulative `ptrace_NAME_bucket{le}`, `_sum`, `_count` |

Keys become labels: `key` for one key, `key0`, `key1`, … for several, and a
record key's field names (`@x[(comm = comm, pid = pid)]`) name them. Maps of
other values (strings, stacks) are not metrics; the run says so when it starts.
prometheus_client (the `metrics` extra) is imported only here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from ptrace.program import MapSpec
from ptrace.runtime.errors import RuntimeFailure
from ptrace.types import types as t

if TYPE_CHECKING:
    from ptrace.runtime.maps import Histogram

PREFIX = "ptrace_"

Reader = Callable[[], list[tuple[MapSpec, list[Any]]]]


class MetricsError(RuntimeFailure):
    """The exporter cannot start: a bad address, a port in use, no prometheus_client."""


def parse_address(text: str) -> tuple[str, int]:
    """`[HOST:]PORT` → (host, port); no host: every address ("0.0.0.0" or "::")."""
    host, colon, port = text.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")  # [::1]:9100
    if not port.isdigit() or not 0 < int(port) < 65536 or (colon and not host):
        raise MetricsError(f"--metrics takes [HOST:]PORT with a port from 1 to 65535, "
                           f"not {text!r}")
    return host or "0.0.0.0", int(port)


def metric_name(map_name: str) -> str:
    """`@syscalls` → `ptrace_syscalls`; the map `@` → `ptrace_map`."""
    return PREFIX + (map_name.lstrip("@") or "map")


def exported(spec: MapSpec) -> bool:
    """Whether a map's values make a metric."""
    vtype = spec.value_type
    return isinstance(vtype, t.Aggregation) or (
        isinstance(vtype, t.Int | t.Bool) and not isinstance(vtype, t.Enum | t.Pointer))


def label_names(ktype: t.Type | None) -> list[str]:
    if ktype is None:
        return []
    if isinstance(ktype, t.Record):
        return list(ktype.names)
    if isinstance(ktype, t.Tuple):
        return [f"key{i}" for i in range(len(ktype.elements))]
    return ["key"]


def label_values(key: Any, ktype: t.Type | None) -> list[str]:
    from ptrace.runtime.values import format_value

    if ktype is None:
        return []
    if isinstance(ktype, t.Tuple | t.Record):
        return [format_value(k, e) for k, e in zip(key, ktype.elements, strict=True)]
    return [format_value(key, ktype)]


def families(spec: MapSpec, entries: list[Any]) -> Iterator[Any]:
    """The metric family of one map (nothing for a map whose values are not numbers)."""
    from prometheus_client.core import (
        CounterMetricFamily,
        GaugeMetricFamily,
        Metric,
        SummaryMetricFamily,
    )

    vtype = spec.value_type
    assert vtype is not None
    if not exported(spec):
        return
    name = metric_name(spec.name)
    what = vtype.function + "()" if isinstance(vtype, t.Aggregation) else "value"
    doc = f"the map {spec.name or '@'} of the ptrace script ({what})"
    labels = label_names(spec.key_type)
    family: Any
    if isinstance(vtype, t.Count | t.Sum):
        family = CounterMetricFamily(name, doc, labels=labels)
    elif isinstance(vtype, t.Stats):
        family = SummaryMetricFamily(name, doc, labels=labels)
    elif isinstance(vtype, t.Hist | t.Lhist):
        family = Metric(name, doc, "histogram")
    else:
        family = GaugeMetricFamily(name, doc, labels=labels)
    for entry in entries:
        values = label_values(entry.key, spec.key_type)
        if isinstance(vtype, t.Stats):
            family.add_metric(values, count_value=entry.value.count,
                              sum_value=entry.value.total)
        elif isinstance(vtype, t.Hist | t.Lhist):
            _add_histogram(family, dict(zip(labels, values, strict=True)), vtype, entry.value)
        elif isinstance(vtype, t.Avg):
            family.add_metric(values, entry.value.average)
        elif isinstance(vtype, t.TSeries):
            if entry.value.last_epoch:  # (Prometheus keeps the series itself)
                family.add_metric(values, entry.value.slots[entry.value.last_epoch])
        else:
            family.add_metric(values, int(entry.value))
    yield family


def _add_histogram(family: Any, labels: dict[str, str], vtype: t.Hist | t.Lhist,
                   histogram: Histogram) -> None:
    """Cumulative buckets. Values are integers, so [low, high) is `le` high - 1. An
    lhist gives every bucket (their number is fixed); a hist those up to its last
    non-empty one. `_sum` where the program keeps it (compiled with hist_sums, as
    --metrics does)."""
    buckets = histogram.buckets
    last = vtype.buckets + 1 if isinstance(vtype, t.Lhist) else \
        max((b for b, c in buckets.items() if c), default=0)
    total = 0
    for bucket in range(last + 1):
        high = vtype.bounds(bucket)[1]
        total += buckets.get(bucket, 0)
        if high is not None:
            family.add_sample(family.name + "_bucket", {**labels, "le": f"{high - 1}.0"}, total)
    count = sum(buckets.values())
    family.add_sample(family.name + "_bucket", {**labels, "le": "+Inf"}, count)
    family.add_sample(family.name + "_count", labels, count)
    if histogram.sum is not None:
        family.add_sample(family.name + "_sum", labels, histogram.sum)


class _Collector:
    """prometheus_client's custom collector: reads the maps at each scrape."""

    def __init__(self, read: Reader):
        self.read = read

    def collect(self) -> Iterator[Any]:
        for spec, entries in self.read():
            yield from families(spec, entries)


def unexported(specs: list[MapSpec]) -> list[str]:
    """The names of the maps that make no metric."""
    return [spec.name for spec in specs if not exported(spec)]


def serve(address: str, read: Reader) -> Callable[[], None]:
    """Serve the maps `read` returns at http://HOST:PORT/metrics, from a daemon
    thread; returns the function that stops the server."""
    host, port = parse_address(address)
    try:
        from prometheus_client import CollectorRegistry, start_http_server
    except ImportError:
        raise MetricsError("--metrics needs the prometheus_client package: "
                           "pip install 'ptrace-bt[metrics]'") from None
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Collector(read))
    try:
        server, thread = start_http_server(port, host, registry)
    except OSError as error:
        raise MetricsError(f"cannot serve metrics on {host}:{port}: {error.strerror}") from None

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join()

    return stop

