"""`ptrace --metrics [HOST:]PORT`: the maps at /metrics, and a real Prometheus
server scraping them.

The exporter runs as a user runs it (the CLI, in the background); a trigger
with its own comm makes the events. /metrics is read directly for the exact
samples, then Debian's prometheus (scripts/setup installs it) is started on
loopback with a one-second scrape of the exporter, and a PromQL query over
its HTTP API must see the counts.
"""

from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from ptrace.metrics import MetricsError, parse_address
from tests.runtime.test_cli import Running, no_leftovers  # noqa: F401  (a fixture)

TIMEOUT = 30
SCRIPT = """
tracepoint:syscalls:sys_enter_getppid /comm == "prom_metrics"/ {
  @syscalls[comm] = count();
  @by[(comm = comm, what = "ppid")] = sum(2);
  @sizes = lhist(7, 0, 20, 10);
  @powers[comm] = hist(5);
  @stats = stats(3);
  @peak = max(9);
  @series[comm] = tseries(4, 10s, 5, "max");
  @name = comm;
}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def fetch(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        text: str = response.read().decode()
        return text


def until(what: str, check: callable) -> object:  # type: ignore[valid-type]
    deadline = time.monotonic() + TIMEOUT
    while True:
        try:
            found = check()
        except OSError:
            found = None
        if found:
            return found
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


@pytest.mark.parametrize(("text", "expected"), [
    ("9100", ("0.0.0.0", 9100)),
    ("127.0.0.1:9100", ("127.0.0.1", 9100)),
    ("[::1]:80", ("::1", 80)),
    ("node:65535", ("node", 65535)),
])
def test_parse_address(text: str, expected: tuple[str, int]) -> None:
    assert parse_address(text) == expected


@pytest.mark.parametrize("text", ["", "http", "0", "65536", ":9100", "host:"])
def test_bad_address(text: str) -> None:
    with pytest.raises(MetricsError, match=r"\[HOST:\]PORT"):
        parse_address(text)


def test_bad_address_is_a_usage_error(ptrace_exe: list[str]) -> None:
    r = subprocess.run([*ptrace_exe, "--metrics", "nope", "-e", "BEGIN { exit(); }"],
                       capture_output=True, text=True, check=False)
    assert r.returncode == 1
    assert r.stderr == ("ptrace: error: --metrics takes [HOST:]PORT with a port from 1 to "
                        "65535, not 'nope' (ptrace -h lists the options)\n")


@pytest.fixture
def exporter(ptrace_exe: list[str], triggers: Path,
             no_leftovers: None) -> Iterator[tuple[int, Running]]:  # noqa: F811
    port = free_port()
    running = Running([*ptrace_exe, "--metrics", f"127.0.0.1:{port}", "-e", SCRIPT])
    try:
        running.wait_attached()
        subprocess.run([str(triggers / "ptt_as"), "prom_metrics", "ppid:3"], check=True)
        yield port, running
    finally:
        code, stdout, stderr = running.finish(signal.SIGINT)
    assert code == 0, stderr
    assert "@syscalls[prom_metrics]: 3\n" in stdout  # the maps print at the end, as always
    assert "@name holds values that are not numbers" in stderr


@pytest.mark.bpf
def test_metrics_page(exporter: tuple[int, Running]) -> None:
    port, _ = exporter
    text = fetch(f"http://127.0.0.1:{port}/metrics")
    samples = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert sorted(samples) == sorted([
        'ptrace_syscalls_total{key="prom_metrics"} 3.0',
        'ptrace_by_total{comm="prom_metrics",what="ppid"} 6.0',
        'ptrace_sizes_bucket{le="-1.0"} 0.0',
        'ptrace_sizes_bucket{le="9.0"} 3.0',
        'ptrace_sizes_bucket{le="19.0"} 3.0',
        'ptrace_sizes_bucket{le="+Inf"} 3.0',
        'ptrace_sizes_count 3.0',
        'ptrace_sizes_sum 21.0',
        'ptrace_powers_bucket{key="prom_metrics",le="-1.0"} 0.0',
        'ptrace_powers_bucket{key="prom_metrics",le="0.0"} 0.0',
        'ptrace_powers_bucket{key="prom_metrics",le="1.0"} 0.0',
        'ptrace_powers_bucket{key="prom_metrics",le="3.0"} 0.0',
        'ptrace_powers_bucket{key="prom_metrics",le="7.0"} 3.0',
        'ptrace_powers_bucket{key="prom_metrics",le="+Inf"} 3.0',
        'ptrace_powers_count{key="prom_metrics"} 3.0',
        'ptrace_powers_sum{key="prom_metrics"} 15.0',
        'ptrace_stats_count 3.0',
        'ptrace_stats_sum 9.0',
        'ptrace_peak 9.0',
        'ptrace_series{key="prom_metrics"} 4.0',
    ])
    assert "# TYPE ptrace_syscalls_total counter" in text
    assert "# TYPE ptrace_powers histogram" in text
    assert "# TYPE ptrace_peak gauge" in text
    assert "# TYPE ptrace_series gauge" in text
    request = urllib.request.Request(f"http://127.0.0.1:{port}/metrics", headers={
        "Accept": "application/openmetrics-text; version=1.0.0; charset=utf-8"})
    with urllib.request.urlopen(request, timeout=5) as response:  # what Prometheus asks for
        assert response.headers["Content-Type"].startswith("application/openmetrics-text")
        open_metrics = response.read().decode()
    assert 'ptrace_syscalls_total{key="prom_metrics"} 3.0\n' in open_metrics
    assert "# TYPE ptrace_syscalls counter\n" in open_metrics
    assert open_metrics.endswith("# EOF\n")


@pytest.mark.bpf
def test_prometheus_scrapes_the_exporter(exporter: tuple[int, Running],
                                         tmp_path: Path) -> None:
    binary = shutil.which("prometheus")
    assert binary is not None, "scripts/setup installs Debian's prometheus"
    port, _ = exporter
    web = free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text("global:\n  scrape_interval: 1s\n"
                      "scrape_configs:\n  - job_name: ptrace\n"
                      f"    static_configs:\n      - targets: ['127.0.0.1:{port}']\n")
    server = subprocess.Popen(
        [binary, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'data'}",
         f"--web.listen-address=127.0.0.1:{web}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        def answer(promql: str) -> list[object]:
            query = urllib.parse.quote(promql)
            data = json.loads(fetch(f"http://127.0.0.1:{web}/api/v1/query?query={query}"))
            result: list[object] = data["data"]["result"]
            return result

        (series,) = until("prometheus to scrape ptrace", lambda: answer(  # type: ignore[misc]
            'sum by (key) (ptrace_syscalls_total{key="prom_metrics"})'))
        assert series["metric"] == {"key": "prom_metrics"}
        assert series["value"][1] == "3"
        # the histogram's average value, from its _sum and _count
        (series,) = answer("ptrace_powers_sum / ptrace_powers_count")  # type: ignore[misc]
        assert series["metric"] == {"key": "prom_metrics", "job": "ptrace",
                                    "instance": f"127.0.0.1:{port}"}
        assert series["value"][1] == "5"
    finally:
        server.terminate()
        server.wait(TIMEOUT)


@pytest.mark.bpf
def test_port_in_use(ptrace_exe: list[str], no_leftovers: None) -> None:  # noqa: F811
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        r = subprocess.run([*ptrace_exe, "--metrics", f"127.0.0.1:{port}", "-e",
                            "tracepoint:syscalls:sys_enter_getppid { @n = count(); }"],
                           capture_output=True, text=True, timeout=TIMEOUT, check=False)
    assert r.returncode == 1
    assert r.stderr == (f"ptrace: error: cannot serve metrics on 127.0.0.1:{port}: "
                        "Address already in use\n")
