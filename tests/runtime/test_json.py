"""-f json: every line of output is one JSON object with a type and data."""

from __future__ import annotations

import json
import subprocess

import pytest

PROGRAM = ('BEGIN { printf("a \\"quoted\\" \\\\ line\\n"); @s = stats(1); @h = hist(5); '
           '@m["k", 1] = 2; @str["é"] = "ü"; print(@m); exit(); }')


@pytest.mark.bpf
def test_every_line_is_a_json_object(ptrace_exe: list[str]) -> None:
    run = subprocess.run([*ptrace_exe, "-f", "json", "-e", PROGRAM], capture_output=True,
                         text=True, timeout=30)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert len(lines) == 7
    records = [json.loads(line) for line in lines]
    # attached_probes also has its count
    assert all(set(r) == {"type", "data"} for r in records[1:])
    assert records[0] == {"type": "attached_probes", "count": 1, "data": {"probes": 1}}
    assert records[1] == {"type": "printf", "data": 'a "quoted" \\ line\n'}
    assert {"type": "map", "data": {"@str": {"é": "ü"}}} in records
