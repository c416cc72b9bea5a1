"""Dataclasses made without compiling their methods again: the compiled code
of the methods `dataclasses` generates, kept between runs.

`dataclasses` writes each method it adds (`__init__`, `__eq__`, `__hash__`,
`__repr__`, a frozen class's `__setattr__` and `__delattr__`) as source text
and runs it with `exec`: ~250 compiles of small functions on a start from the
compile cache, the largest part of its imports. `use()` makes the
`dataclasses` module's `exec` one that looks the text up in a table of code
compiled by earlier runs, and compiles (and adds) only what is not in it; at
exit a table that grew is written back. The code is what `exec` would have
compiled from the same text, with the same interpreter: the table is kept per
Python version (its `sys.version`), and a text not in it is compiled.

The table is $XDG_CACHE_HOME/ptrace/class-code-TAG (see ptrace.caches); it is
read only when it and its directory belong to the user running ptrace and no
one else can write them (loading code runs it), written only into a directory
of the user's own, and a table that cannot be read or written is ignored.
"""

from __future__ import annotations

import atexit
import builtins
import importlib
import marshal
import os
import sys
import types
from pathlib import Path
from types import CodeType
from typing import Any

from ptrace.caches import cache_file, owned, replace_file

MAX_ENTRIES = 4096  # past this (the classes of many versions), only this run's are kept


class _Table:
    """The compiled code of methods, by their source text."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.code: dict[str, CodeType] = _read(path) if path is not None else {}
        self.used: dict[str, CodeType] = {}
        self.grown = False

    def exec(self, source: Any, globals_: Any = None, locals_: Any = None) -> None:
        """As `exec`, with a text's code compiled once for every run."""
        if not isinstance(source, str):
            builtins.exec(source, globals_, locals_)
            return
        code = self.code.get(source)
        if code is None:
            code = self.code[source] = compile(source, "<string>", "exec")
            self.grown = True
        self.used[source] = code
        builtins.exec(code, globals_, locals_)

    def write(self) -> None:
        """Keep the table for the next run, if this one compiled something, where
        a later run would read it: never in a directory another user owns (root
        with a user's HOME)."""
        if not self.grown or self.path is None:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if not owned(os.stat(self.path.parent)):
                return
        except OSError:
            return
        table = self.code if len(self.code) <= MAX_ENTRIES else self.used
        replace_file(self.path, marshal.dumps((sys.version, table)), mode=0o600)


def _read(path: Path) -> dict[str, CodeType]:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return {}
    with os.fdopen(fd, "rb") as f:
        try:
            if not owned(os.fstat(fd)) or not owned(os.stat(path.parent)):
                return {}
            version, table = marshal.loads(f.read())
        except Exception:  # a damaged table is an empty one
            return {}
    return table if version == sys.version and isinstance(table, dict) else {}


class _Deferred(types.ModuleType):
    """Stands in sys.modules for a module until one of its attributes is first
    asked for: then the module is imported (in its place), and what it holds
    is copied here for the modules that imported this one."""

    def __getattr__(self, name: str) -> Any:
        if sys.modules.get(self.__name__) is self:
            del sys.modules[self.__name__]
        module = importlib.import_module(self.__name__)
        self.__dict__.update(module.__dict__)
        return getattr(module, name)


def use(path: Path | None = None) -> _Table:
    """From now on, dataclasses take their methods' code from the table (the
    user's, or the one at `path`); it is written back at exit.

    `dataclasses` imports `inspect` (with `ast`, `dis` and `tokenize`: a
    tenth of a start from the compile cache) only to describe a class that
    has no docstring: here `inspect` is imported when it is first used,
    which a start whose classes all have one never does."""
    if "inspect" not in sys.modules:
        sys.modules["inspect"] = _Deferred("inspect")
    import dataclasses

    table = _Table(path or cache_file(f"class-code-{sys.implementation.cache_tag}"))
    dataclasses.exec = table.exec  # type: ignore[attr-defined]
    atexit.register(table.write)
    return table
