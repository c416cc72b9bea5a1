"""The compile cache: a compiled program kept between runs, so that running a
script again imports neither Lark nor llvmlite and compiles nothing.

An entry is found by a key made of what is known before compiling: the
source (its name and text), the options, ptrace's and Python's versions, the
files of its code and of its compiler libraries (their sizes and mtimes),
and the kernel (`uname`: its release and build). It holds the
`CompiledProgram` and every machine fact the compile read, each with what it
was then:

- every file it opened for reading and every directory it listed, seen
  through Python's audit events (`open`, `os.scandir`, `os.listdir`), so a
  read added to the compiler later is recorded too. A file on a disk is
  known by its device, inode, size, mtime and ctime; a file of /sys or
  /proc (tracepoint formats, a module's BTF, the possible CPUs) by its
  contents; a directory by its names. The kernel's own BTF is the kernel's
  (it is in the key). Reading a process's files (/proc/PID) or a large
  kernel list (/proc/kallsyms, available_filter_functions) makes the
  program not cached.
- what the compiler learnt without opening a file: where a binary name
  resolves (PATH, the working directory) and a path's inode (cgroupid).

An entry is used only if every fact is still what it was; otherwise the
script is compiled and the entry replaced, in a forked child: the audit hook
the recording needs cannot be removed, and in the running process it would
cost every ctypes call of the run a Python call. A cache that cannot be read or
written, an entry that does not load, and a directory or file not owned by
the user running ptrace or writable by others (entries are pickles) are
ignored: the script is compiled as if there were no cache. The directory is
$XDG_CACHE_HOME/ptrace/programs (else ~/.cache/ptrace/programs, root's own
for root), bounded to MAX_BYTES: the entries used longest ago go first.
PTRACE_NO_CACHE=1 (or `--no-cache`) turns it off. A process whose code
files changed after it imported ptrace (an upgrade or an edit while it ran)
neither uses nor fills the cache: its modules may be older than the files
the key names.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import sys
from _blake2 import blake2b  # hashlib's, without hashlib loading OpenSSL (3 MB, 3 ms)
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ptrace import IMPORTED_NS, __version__
from ptrace.caches import cache_file, owned, replace_file
from ptrace.machine import LiveMachine

if TYPE_CHECKING:
    from ptrace.diagnostics import Source
    from ptrace.options import Options
    from ptrace.program import CompiledProgram

FORMAT = 1  # the layout of an entry; a change makes every older entry a miss
MAX_BYTES = 64 << 20  # the directory's bound
DISABLE_VARIABLE = "PTRACE_NO_CACHE"
MAX_CONTENT_BYTES = 1 << 20  # a larger /sys or /proc file makes the program not cached
KERNEL_BTF = "/sys/kernel/btf/vmlinux"  # the kernel's: known by the kernel, in the key
# The compiler's own files and libraries are in the key; these are derived
# data only they write (Lark's parser tables).
DERIVED_PREFIXES = (".lark_cache_",)
# The packages whose files are the compiler: their sizes and mtimes are in the
# key; of the libraries, the file that says their version.
CODE_PACKAGES = ("ptrace", "ptrace.runtime", "ptrace.grammar")
LIBRARIES = ("lark", "llvmlite")


class Uncacheable(Exception):
    """The compile read something a later run cannot check cheaply."""


Fact = tuple[str, str, str]  # (kind, what, what it was)


def enabled() -> bool:
    return os.environ.get(DISABLE_VARIABLE, "") in ("", "0")


def cached_compile(source: Source, options: Options,
                   compile_with: Callable[[LiveMachine], CompiledProgram]) -> CompiledProgram:
    """The program for `source` from the cache if every fact it was compiled
    from still holds; else `compile_with(machine)`, kept for the next run.
    A CompileError passes through and keeps nothing."""
    directory = cache_file("programs")
    if directory is None or not enabled():
        return compile_with(LiveMachine())
    stamps = list(_code_stamps())
    if _changed_since_import(stamps):
        return compile_with(LiveMachine())
    entry = directory / _key(source, options, stamps)
    program = _load(entry)
    if program is not None:
        return program
    return _compile_and_keep(entry, stamps, compile_with)


# The child's first byte: what the rest of its pickle is.
COMPILED, REFUSED = b"P", b"E"


def _compile_and_keep(entry: Path, stamps: list[str],
                      compile_with: Callable[[LiveMachine], CompiledProgram]) -> CompiledProgram:
    """A miss: the program compiled, recorded and kept by a forked child, which
    sends it back (or the CompileError's diagnostics). Recording needs an audit
    hook, and Python cannot remove one: in this process it would slow every
    ctypes call of the run that follows. A child that fails otherwise (a bug)
    leaves the compile to this process, where the error shows as it would."""
    from ptrace.diagnostics import CompileError
    from ptrace.forked import in_child

    with open(os.devnull, "wb") as null:  # (the compile in this process says what failed)
        status, data = in_child(lambda: _recorded_compile(entry, stamps, compile_with),
                                null.fileno())
    if status != 0 or not data:
        return compile_with(LiveMachine())
    if data[:1] == REFUSED:
        diagnostics, dumps = pickle.loads(data[1:])
        raise CompileError(diagnostics, dumps)
    program: CompiledProgram = pickle.loads(data[1:])
    return program


def _recorded_compile(entry: Path, stamps: list[str],
                      compile_with: Callable[[LiveMachine], CompiledProgram]) -> bytes:
    """In the child: the program compiled with its facts recorded, kept in the
    cache, pickled for the parent (a CompileError's diagnostics instead)."""
    from ptrace.diagnostics import CompileError

    recorder = _Recorder()
    try:
        with recorder.recording():
            program = compile_with(RecordingMachine(recorder))
    except CompileError as error:
        return REFUSED + pickle.dumps((error.diagnostics, error.dumps), pickle.HIGHEST_PROTOCOL)
    if recorder.facts is not None and list(_code_stamps()) == stamps:
        _store(entry, recorder.facts, program)
    return COMPILED + pickle.dumps(program, pickle.HIGHEST_PROTOCOL)


# ---- the key -------------------------------------------------------------------------------

def _key(source: Source, options: Options, stamps: list[str]) -> str:
    digest = blake2b(digest_size=20)
    for part in (str(FORMAT), __version__, sys.version, *os.uname(), source.name, source.text,
                 _options_text(options), *stamps):
        digest.update(part.encode("utf-8", "surrogateescape") + b"\0")
    return digest.hexdigest()


# A file's mtime comes from the kernel's coarse clock, which may lag the one
# IMPORTED_NS was read from: a file changed this close to the import counts
# as changed after it.
CLOCK_SLACK_NS = 2_000_000_000


def _changed_since_import(stamps: list[str]) -> bool:
    """Whether a file of the code changed after this process imported ptrace:
    the modules it runs may then be older than the files the key names (an
    upgrade or an edit during a run), so it neither uses nor fills the cache."""
    since = IMPORTED_NS - CLOCK_SLACK_NS
    return any(int(stamp.rsplit(":", 1)[1]) >= since for stamp in stamps)


def _options_text(options: Options) -> str:
    return repr([(name, sorted(value) if isinstance(value, frozenset) else value)
                 for name in options.__slots__ for value in (getattr(options, name),)])


def _code_stamps() -> Iterator[str]:
    from importlib.util import find_spec

    for package in CODE_PACKAGES:
        spec = find_spec(package)
        for location in (spec.submodule_search_locations or ()) if spec else ():
            yield from _tree_stamps(location)
    for library in LIBRARIES:
        spec = find_spec(library)
        if spec and spec.origin:
            stat = os.stat(spec.origin)
            yield f"{spec.origin}:{stat.st_size}:{stat.st_mtime_ns}"


def _tree_stamps(directory: str) -> Iterator[str]:
    """Each source file under `directory`: its name, size and mtime."""
    with os.scandir(directory) as entries:
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                if entry.name != "__pycache__":
                    yield from _tree_stamps(entry.path)
            elif entry.name.endswith((".py", ".lark", ".so")):
                stat = entry.stat()
                yield f"{entry.path}:{stat.st_size}:{stat.st_mtime_ns}"


# ---- the facts -----------------------------------------------------------------------------

def _file_state(path: str) -> str:
    """What a file is now: "-" if it is missing; raises Uncacheable for what a
    run cannot check cheaply."""
    if path.startswith(("/proc/", "/sys/")):
        if path == KERNEL_BTF:
            return "kernel"
        if path.split("/")[2].isdigit() or path.startswith("/proc/self/"):
            raise Uncacheable(path)
        try:
            with open(path, "rb") as f:
                data = f.read(MAX_CONTENT_BYTES + 1)
        except OSError:
            return "-"
        if len(data) > MAX_CONTENT_BYTES:
            raise Uncacheable(path)
        return blake2b(data, digest_size=20).hexdigest()
    try:
        s = os.stat(path)
    except (OSError, ValueError):
        return "-"
    return f"{s.st_dev}:{s.st_ino}:{s.st_size}:{s.st_mtime_ns}:{s.st_ctime_ns}"


def _listing_state(path: str) -> str:
    try:
        return "\0".join(sorted(os.listdir(path)))
    except (OSError, ValueError):
        return "-"


def _resolve_state(name: str) -> str:
    """Where a binary name leads, as an absolute path: "./a.out" in another
    directory is another binary."""
    found = LiveMachine().resolve_binary(name)
    return os.path.abspath(found) if found else "-"


def _inode_state(path: str) -> str:
    return str(LiveMachine().file_inode(path))


def _cwd_state(_: str) -> str:
    try:
        return os.getcwd()
    except OSError:  # (removed since)
        return "-"


STATES: dict[str, Callable[[str], str]] = {
    "file": _file_state, "listing": _listing_state, "resolve": _resolve_state,
    "inode": _inode_state, "cwd": _cwd_state,
}


def _holds(facts: tuple[Fact, ...]) -> bool:
    try:
        return all(STATES[kind](what) == was for kind, what, was in facts)
    except Uncacheable:
        return False


class _Recorder:
    """The facts one compile reads; `facts` is None once it read one that
    cannot be cached."""

    active: _Recorder | None = None  # the recorder the audit hook adds to
    hooked = False

    def __init__(self) -> None:
        self.facts: list[Fact] | None = []
        self.seen: set[tuple[str, str]] = set()
        self.skipped = _skipped_prefixes()
        # The import system lists sys.path's directories (the working directory
        # for `python -m`) to find the modules a compile imports.
        self.import_dirs = {os.path.abspath(entry or ".") for entry in sys.path}

    @contextlib.contextmanager
    def recording(self) -> Iterator[None]:
        if not _Recorder.hooked:
            sys.addaudithook(_audit)  # for the process's life: it returns at once when idle
            _Recorder.hooked = True
        _Recorder.active = self
        try:
            yield
        finally:
            _Recorder.active = None

    def note(self, kind: str, what: str) -> None:
        if self.facts is None or (kind, what) in self.seen:
            return
        self.seen.add((kind, what))
        try:
            self.facts.append((kind, what, STATES[kind](what)))
        except Uncacheable:
            self.facts = None

    def note_path(self, kind: str, path: Any) -> None:
        if isinstance(path, bytes):
            path = os.fsdecode(path)
        if not isinstance(path, str):
            return  # a file descriptor: its file was noted when it was opened
        if not os.path.isabs(path):
            self.note("cwd", "")  # a relative name: elsewhere it is another file
        path = os.path.abspath(path)
        if os.path.join(path, "").startswith(self.skipped) \
                or os.path.basename(path).startswith(DERIVED_PREFIXES) \
                or (kind == "listing" and path in self.import_dirs):
            return
        self.note(kind, path)


WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT


def _audit(event: str, args: tuple[Any, ...]) -> None:
    recorder = _Recorder.active
    if recorder is None:
        return
    if event == "open":
        path, mode, flags = args  # mode is None for os.open
        reads = not flags & WRITE_FLAGS if mode is None else "r" in mode and "+" not in mode
        if reads:
            recorder.note_path("file", path)
    elif event == "ptrace.lookup":  # a header searched for (ptrace.parse.preprocess)
        recorder.note_path("file", args[0])
    elif event in ("os.scandir", "os.listdir"):
        recorder.note_path("listing", args[0] if args[0] is not None else ".")


def _skipped_prefixes() -> tuple[str, ...]:
    """Python's standard library and the compiler's files (their versions are
    in the key), and the caches' directory (derived data). Not Python's
    prefix: a system Python's is /usr, where the binaries and headers are."""
    roots = {os.path.dirname(os.__file__)}
    from importlib.util import find_spec

    for package in CODE_PACKAGES + LIBRARIES:
        spec = find_spec(package)
        roots.update((spec.submodule_search_locations or ()) if spec else ())
    cache = cache_file("")
    if cache is not None:
        roots.add(str(cache))
    return tuple(os.path.join(os.path.abspath(root), "") for root in roots)


class RecordingMachine(LiveMachine):
    """The live machine, noting what the compiler learns without opening a file."""

    def __init__(self, recorder: _Recorder) -> None:
        self.recorder = recorder

    def resolve_binary(self, name: str) -> str | None:
        self.recorder.note("resolve", name)
        return super().resolve_binary(name)

    def file_inode(self, path: str) -> int | None:
        self.recorder.note("inode", path)
        return super().file_inode(path)


# ---- the entries ---------------------------------------------------------------------------

def _load(entry: Path) -> CompiledProgram | None:
    try:
        if not owned(os.stat(entry.parent)):
            return None
        fd = os.open(entry, os.O_RDONLY | os.O_NOFOLLOW)
        with os.fdopen(fd, "rb") as f:
            if not owned(os.fstat(f.fileno())):
                return None
            data = f.read()
    except OSError:
        return None
    from ptrace.program import CompiledProgram

    try:
        version, facts, program = pickle.loads(data)
        if version != FORMAT or not isinstance(program, CompiledProgram) or not _holds(facts):
            return None
    except Exception:  # a damaged entry may fail to load in any way; it is a miss
        return None
    with contextlib.suppress(OSError):
        os.utime(entry)  # its mtime is when it was last used: the bound removes the oldest
    return program


def _store(entry: Path, facts: list[Fact], program: CompiledProgram) -> None:
    """Keep an entry, only where a later run would load it (a directory of the
    user's own, writable by no one else); readable by the user alone."""
    try:
        entry.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not owned(os.stat(entry.parent)):
            return
    except OSError:
        return
    replace_file(entry, pickle.dumps((FORMAT, tuple(facts), program),
                                     protocol=pickle.HIGHEST_PROTOCOL), mode=0o600)
    _bound(entry.parent)


def _bound(directory: Path, limit: int = MAX_BYTES) -> None:
    """Remove the entries used longest ago while the directory holds more than `limit`."""
    try:
        with os.scandir(directory) as found:
            entries = [(s.st_mtime_ns, s.st_size, e.path) for e in found
                       if e.is_file(follow_symlinks=False) for s in (e.stat(),)]
    except OSError:
        return
    total = sum(size for _, size, _ in entries)
    for _, size, path in sorted(entries):
        if total <= limit:
            break
        with contextlib.suppress(OSError):
            os.unlink(path)
        total -= size
