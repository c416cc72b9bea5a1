"""The fleet files of deploy/ (docs/deploy.md): the systemd unit passes
`systemd-analyze verify`, the Kubernetes manifests and the Prometheus scrape
configuration parse and agree with each other (port, labels, script), and
promtool accepts the scrape configuration.

Debian's promtool is built without Kubernetes service discovery, so it checks
the configuration without the Kubernetes job; that job is checked here by
its structure. The Containerfile is not built (no container runtime here).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import ROOT

DEPLOY = ROOT / "deploy"
PORT = 9436


def manifests() -> dict[str, Any]:
    docs = list(yaml.safe_load_all((DEPLOY / "kubernetes.yaml").read_text()))
    return {doc["kind"]: doc for doc in docs}


def unit_lines() -> list[str]:
    return (DEPLOY / "ptrace-exporter.service").read_text().splitlines()


def test_unit_verifies(tmp_path: Path) -> None:
    """systemd-analyze verify checks every directive, and that the ExecStart
    binary exists: the copy checked runs this checkout's ptrace instead of
    /usr/local/bin/ptrace."""
    analyze = shutil.which("systemd-analyze")
    assert analyze is not None, "scripts/setup installs systemd"
    unit = tmp_path / "ptrace-exporter.service"
    unit.write_text("\n".join(unit_lines()).replace(
        "/usr/local/bin/ptrace", str(ROOT / ".venv" / "bin" / "ptrace")) + "\n")
    r = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True,
                       check=False)
    assert (r.returncode, r.stdout, r.stderr) == (0, "", "")


def test_unit_runs_the_exporter() -> None:
    (start,) = [line for line in unit_lines() if line.startswith("ExecStart=")]
    assert start == f"ExecStart=/usr/local/bin/ptrace -q --metrics {PORT} /etc/ptrace/exporter.bt"
    assert "WantedBy=multi-user.target" in unit_lines()


def test_daemonset() -> None:
    found = manifests()
    daemonset = found["DaemonSet"]
    pod = daemonset["spec"]["template"]["spec"]
    labels = daemonset["spec"]["template"]["metadata"]["labels"]
    assert daemonset["spec"]["selector"]["matchLabels"] == labels
    assert pod["hostPID"] is True
    (container,) = pod["containers"]
    assert container["securityContext"]["privileged"] is True
    assert container["args"] == ["-q", "--metrics", str(PORT), "/etc/ptrace/exporter.bt"]
    assert container["ports"] == [{"name": "metrics", "containerPort": PORT}]
    assert container["readinessProbe"]["httpGet"] == {"path": "/metrics", "port": "metrics"}
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    assert volumes[mounts["/sys"]]["hostPath"] == {"path": "/sys"}
    config = volumes[mounts["/etc/ptrace"]]["configMap"]["name"]
    assert found["ConfigMap"]["metadata"]["name"] == config
    assert found["ConfigMap"]["data"]["exporter.bt"] == (DEPLOY / "exporter.bt").read_text()
    namespace = found["Namespace"]["metadata"]["name"]
    assert daemonset["metadata"]["namespace"] == found["ConfigMap"]["metadata"]["namespace"] \
        == namespace


def test_scrape_configuration(tmp_path: Path) -> None:
    config = yaml.safe_load((DEPLOY / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    (static,) = jobs["ptrace"]["static_configs"]
    assert all(target.endswith(f":{PORT}") for target in static["targets"])
    keep = {tuple(rule["source_labels"]): rule["regex"]
            for rule in jobs["ptrace-kubernetes"]["relabel_configs"]
            if rule.get("action") == "keep"}
    labels = manifests()["DaemonSet"]["spec"]["template"]["metadata"]["labels"]
    assert keep[("__meta_kubernetes_pod_label_app_kubernetes_io_name",)] == \
        labels["app.kubernetes.io/name"]
    assert keep[("__meta_kubernetes_pod_container_port_name",)] == "metrics"
    promtool = shutil.which("promtool")
    assert promtool is not None, "scripts/setup installs prometheus (with promtool)"
    checked = tmp_path / "prometheus.yml"
    checked.write_text(yaml.safe_dump({**config, "scrape_configs": [jobs["ptrace"]]}))
    r = subprocess.run([promtool, "check", "config", str(checked)], capture_output=True,
                       text=True, check=False)
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.bpf
def test_exporter_script_loads(ptrace_exe: list[str]) -> None:
    r = subprocess.run([*ptrace_exe, "--dry-run", str(DEPLOY / "exporter.bt")],
                       capture_output=True, text=True, check=False)
    assert (r.returncode, r.stderr) == (0, "")
