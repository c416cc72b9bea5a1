"""Imports: `import "NAME";` brings other scripts into the program.

Input: the parsed program. Output: `ctx.program` with each top-level import
replaced by the items of what it imports (which may import more; each
script once, so an imported script's BEGIN runs before the importer's when
the import comes first), and no import left; an error where the program then
has no probes.

As bpftrace 0.26 does, NAME is looked for under the directory of the script
(the working directory for `-e` and standard input), also for the imports
of imported scripts:

- a `.bt` file is parsed and imported; a `config` block in it is an error
  (the settings are the program's);
- a directory: each `.bt` file directly in it, in name order (its other
  files and its subdirectories are passed over);
- a path anyone may write to, or in a directory anyone may write to, is
  refused, as bpftrace refuses it;
- a NAME that is no path there is a module of the standard library
  (`ptrace/stdlib.py`: `stdlib/test`).

C (`.bpf.c` sources, `.h` headers, `.bpf.o` objects), which bpftrace
compiles with clang and links with the program, is an error: ptrace compiles
no C. So is an `import` in a block, which bpftrace keeps for C objects.

Whether a path exists is learned by listing its directory, which the compile
cache notes as a fact of the compile (a file that appears later is a miss),
not by a stat, which it would not notice.
"""

from __future__ import annotations

import dataclasses
import os
import stat
from pathlib import Path

from ptrace.ast import nodes as n
from ptrace.ast.visitor import walk
from ptrace.diagnostics import CompileError, Source, Span
from ptrace.parse import parse_program
from ptrace.parse.preprocess import PredefinedNames
from ptrace.passes.context import CompileContext
from ptrace.stdlib import MODULES

C_SUFFIXES = (".bpf.c", ".h", ".bpf.o")
NO_C = ("bpftrace compiles C with clang and links it with the program; ptrace compiles no C "
        "(kernel types come from BTF)")


def import_scripts(ctx: CompileContext) -> None:
    importer = _Importer(ctx)
    items = importer.items(ctx.program)
    ctx.program = dataclasses.replace(ctx.program, items=tuple(items))
    for node in walk(ctx.program):
        if isinstance(node, n.Import):  # one in a block: bpftrace's import of C
            ctx.reporter.error(f"ptrace cannot import '{node.name}' in a block", node.span,
                               "an import in a block names C (.bpf.c, .h, .bpf.o): " + NO_C,
                               "scripts are imported at the top of the program")
    if not ctx.program.probes and not ctx.reporter.has_errors:
        ctx.reporter.error("the script has no probes", Span.whole(ctx.source),
                           'for example: BEGIN { printf("hello\\n"); }')


class _Importer:
    def __init__(self, ctx: CompileContext):
        self.ctx = ctx
        self.reporter = ctx.reporter
        name = ctx.source.name
        is_file = name not in ("-e", "stdin", "-")
        # Where names are looked for, as scripts name them ("" for the working directory).
        self.base = os.path.dirname(name) if is_file else ""
        # The scripts and modules imported (and the program itself): each comes once.
        self.seen = {os.path.realpath(name)} if is_file else set()
        self.predefined = PredefinedNames(lambda: ctx.machine.btf() is not None)

    def items(self, program: n.Program) -> list[n.TopLevel]:
        """The program's items, each import replaced by what it imports."""
        items: list[n.TopLevel] = []
        for item in program.items:
            if isinstance(item, n.Import):
                items.extend(self.imported(item))
            else:
                items.append(item)
        return items

    def imported(self, item: n.Import) -> list[n.TopLevel]:
        path = os.path.join(self.base, item.name)
        if item.name and _exists(path):
            return self.path(item, path)
        module = MODULES.get(item.name.rstrip("/"))
        if module is not None:
            return self.module(item.name.rstrip("/"), module)
        where = os.path.abspath(path)
        self.reporter.error(f"cannot find '{item.name}' to import", item.span,
                            f"there is no {where}",
                            f"the standard library's modules: {', '.join(MODULES)}")
        return []

    def path(self, item: n.Import, path: str) -> list[n.TopLevel]:
        """A file or a directory that exists."""
        if not os.path.isdir(path):
            return self.file(item, path)
        if not self.safe(item, path):
            return []
        items: list[n.TopLevel] = []
        for entry in sorted(os.listdir(path)):
            inner = os.path.join(path, entry)
            if entry.endswith((".bt", *C_SUFFIXES)) and not os.path.isdir(inner):
                items.extend(self.file(item, inner))
        return items

    def safe(self, item: n.Import, path: str) -> bool:
        """Whether only its owners may change `path` (else the error is told)."""
        if not _writable_by_others(path):
            return True
        self.reporter.error(f"ptrace refuses to import {path}: anyone may write to it or to "
                            "its directory", item.span, "as bpftrace, scripts are imported "
                            "only from places only their owners can change")
        return False

    def file(self, item: n.Import, path: str) -> list[n.TopLevel]:
        if not self.safe(item, path):
            return []
        if path.endswith(C_SUFFIXES):
            self.reporter.error(f"ptrace cannot import {path}: it is C", item.span, NO_C)
            return []
        if not path.endswith(".bt"):
            self.reporter.error(f"ptrace cannot import {path}: it is not a script (.bt)",
                                item.span, "an import names a .bt script, a directory of "
                                "them or a module of the standard library (stdlib/test)")
            return []
        key = os.path.realpath(path)
        if key in self.seen:
            return []
        self.seen.add(key)
        try:
            text = Path(path).read_bytes().decode("utf-8", "surrogateescape")
        except OSError as error:
            self.reporter.error(f"cannot read {path}: {error.strerror}", item.span)
            return []
        return self.script(Source(path, text))

    def module(self, name: str, text: str) -> list[n.TopLevel]:
        if f"stdlib:{name}" in self.seen:
            return []
        self.seen.add(f"stdlib:{name}")
        return self.script(Source(name, text))

    def script(self, source: Source) -> list[n.TopLevel]:
        """An imported script's items, its own imports replaced by what they import."""
        options = self.ctx.options
        try:
            program = parse_program(source, self.predefined, options.max_probes
                                    if options.missing_probes == "error" else None)
        except CompileError as error:
            self.reporter.diagnostics.extend(error.diagnostics)
            return []
        for item in program.items:
            if isinstance(item, n.ConfigBlock) and item.entries:
                self.reporter.error("an imported script cannot set config", item.span,
                                    "the settings are the importing program's: set them there")
        return self.items(program)


def _exists(path: str) -> bool:
    """Whether `path` exists, learned by listing its directory."""
    directory, name = os.path.split(os.path.abspath(path))
    try:
        return name in os.listdir(directory)
    except OSError:
        return False


def _writable_by_others(path: str) -> bool:
    """Whether anyone may write to `path` or to the directory it is in."""
    for place in (path, os.path.dirname(os.path.abspath(path))):
        try:
            if os.stat(place).st_mode & stat.S_IWOTH:
                return True
        except OSError:
            continue
    return False
