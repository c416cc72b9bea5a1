"""The fuzzer as a test: every script it ever broke ptrace with, and a short seeded run.

tests/fuzz/corpus/ keeps each failing case the fuzzer found (reduced by hand
to what still showed the failure), named after what it exercised. Each must
end as a clean compile or a located diagnostic, in a worker process, so a
hang or an abort fails the test instead of the test run.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fuzz.fuzzer import CORPUS, GOOD, Run, Worker, make_case, report, seed_scripts

CASES = sorted(CORPUS.glob("*.bt"))


class Workers:
    """One worker shared by the corpus cases, replaced when a case ends it."""

    def __init__(self, scratch: Path):
        self.scratch, self.worker = scratch, Worker(scratch)

    def compile(self, script: bytes) -> tuple[str, str]:
        outcome = self.worker.compile(script)
        if not self.worker.alive:
            self.worker.close()
            self.worker = Worker(self.scratch)
        return outcome


@pytest.fixture(scope="module")
def workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workers]:
    shared = Workers(tmp_path_factory.mktemp("fuzz"))
    yield shared
    shared.worker.close()


@pytest.mark.parametrize("path", CASES, ids=[p.name for p in CASES])
def test_corpus_case(path: Path, workers: Workers) -> None:
    outcome, detail = workers.compile(path.read_bytes())
    assert outcome in GOOD, f"{path.name}: {outcome}: {detail}"


def test_cases_are_made_again_from_seed_and_number() -> None:
    seeds = seed_scripts()
    assert len(seeds) > 300
    first = [make_case(seeds, 7, number).script for number in range(50)]
    assert first == [make_case(seeds, 7, number).script for number in range(50)]
    assert len(set(first)) > 40


def test_bounded_run() -> None:
    """A fixed seed, a fixed number of scripts: nothing but clean compiles and
    located diagnostics (and, as root, clean loads)."""
    with tempfile.TemporaryDirectory(prefix="ptrace-fuzz-") as scratch:
        run = Run(2026, time.monotonic() + 600, 120, seed_scripts(), Path(scratch), jobs=2,
                  can_load=os.geteuid() == 0)
        run.go()
        text, failing = report(run, 0, Path(scratch) / "failing")
    assert len(run.results) == 120
    assert not failing, text
    assert {r.outcome for r in run.results} == set(GOOD), text
