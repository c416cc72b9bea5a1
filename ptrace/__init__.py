"""ptrace: a bpftrace-compatible tracing language for Linux, in Python.

As a library: `ptrace.run(source)` runs a script to its end and returns its
maps as Python values; `with ptrace.trace(source) as t:` runs one in the
background. docs/api.md is the reference. The names below are imported when
first used, so that `import ptrace` (and the CLI's start-up) stays cheap.
"""

from __future__ import annotations

TYPE_CHECKING = False  # (not typing's: importing typing would cost `import ptrace` 3 ms)

__version__ = "0.1.0"

__all__ = ["Bucket", "EnumValue", "Error", "Event", "Frame", "Histogram", "Point", "Result",
           "RunError", "ScriptError", "Stats", "TimeSeries", "Trace", "__version__",
           "compile_script", "run", "trace"]

if TYPE_CHECKING:
    from ptrace.api import (
        Bucket,
        EnumValue,
        Error,
        Event,
        Frame,
        Histogram,
        Point,
        Result,
        RunError,
        ScriptError,
        Stats,
        TimeSeries,
        Trace,
        compile_script,
        run,
        trace,
    )


def __getattr__(name: str) -> object:
    if name in __all__:
        from ptrace import api

        return getattr(api, name)
    raise AttributeError(f"module 'ptrace' has no attribute {name!r}")


def load_ipython_extension(ipython: object) -> None:
    """`%load_ext ptrace` in IPython or Jupyter: the `%%ptrace` cell magic
    (ptrace/notebook.py)."""
    from ptrace.notebook import load_ipython_extension as load

    load(ipython)
