"""A run whose maps other threads can read while it goes on, and the run the CLI
and the REPL make of a compiled program (`run_session`).

`LiveSession` is the runtime's Session with a lock: a reader in another
thread (a Prometheus scrape, `ptrace.trace()`'s `maps()`) reads the maps under
it, and the session takes it to close its fds, so a read never meets a
closed map. The event loop never waits for a reader, except for the moment
of detaching.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TextIO

from ptrace.program import CompiledProgram, MapSpec
from ptrace.runtime.maps import Entry, read_entries
from ptrace.runtime.session import RunOptions, Session
from ptrace.runtime.target import Target


class LiveSession(Session):
    def __init__(self, program: CompiledProgram, out: TextIO, err: TextIO,
                 options: RunOptions | None = None, target: Target | None = None,
                 output: Any = None):
        super().__init__(program, out, err, options, target, output)
        self.lock = threading.Lock()

    def entries(self) -> list[tuple[MapSpec, list[Entry]]]:
        """Every map of the script with its entries, read now; none before the
        programs are loaded or once the run has ended."""
        with self.lock:
            return self.read_all() if self.loaded is not None else []

    def read_all(self) -> list[tuple[MapSpec, list[Entry]]]:
        """Every map of the script with its entries; the caller holds the lock."""
        assert self.loaded is not None
        return [(self.program.maps[i],
                 read_entries(self.libs, self.loaded.map_fds[i], self.program.maps[i]))
                for i in self.program.user_maps]

    def _detach(self) -> None:
        with self.lock:
            super()._detach()


def run_session(program: CompiledProgram, out: TextIO, err: TextIO, options: RunOptions,
                target: Target | None = None, *, metrics: str | None = None,
                output: Any = None, started: Callable[[Session], None] | None = None) -> int:
    """The CLI's and the REPL's run of a compiled program; its exit status.

    With `metrics` ([HOST:]PORT), its maps are served to Prometheus while it
    runs (ptrace/metrics.py). `output` replaces the text or JSON output the
    options ask for; `started` is given the session before it runs (to stop
    it from another thread). RuntimeFailure when the machine refuses it.
    """
    if metrics is None:
        session = Session(program, out, err, options, target, output)
        if started is not None:
            started(session)
        return session.run()
    from ptrace.metrics import serve, unexported

    live = LiveSession(program, out, err, options, target, output)
    if started is not None:
        started(live)
    stop = serve(metrics, live.entries)
    for name in unexported([program.maps[i] for i in program.user_maps]):
        err.write(f"ptrace: warning: {name} holds values that are not numbers: "
                  "it is not served as a metric\n")
    try:
        return live.run()
    finally:
        stop()
