"""A seeded mutation fuzzer over the project's own scripts.

Seeds are the programs of tests/ (runtime cases, diagnostic goldens, the
regression corpus), tools/ and docs/language.md's examples. Case N of seed S
is made by `make_case(S, N)` alone: the same seed and number give the same
script, so any case can be made again. A case is one to three mutations of a
seed script: token deletions, swaps and duplications, random bytes, invalid
UTF-8, deep nesting, huge literals, long strings and identifiers, unknown
probes and fields, many statements or probes, config values, control
characters, splices of two scripts.

Most cases are compiled by worker processes through the compile API
(tests/fuzz/worker.py); one in RUN_EVERY also goes through the command line
with --dry-run, which creates the maps and loads the programs into the
kernel (root only). Each outcome is one of OUTCOMES; all but "ok" and
"diagnostic" are failures, kept as files in the output directory.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import select
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
CORPUS = Path(__file__).resolve().parent / "corpus"
PYTHON = ROOT / ".venv" / "bin" / "python"
PTRACE = ROOT / ".venv" / "bin" / "ptrace"

OUTCOMES = {
    "ok": "compiles (or loads)",
    "diagnostic": "located diagnostic, exit 1",
    "internal": "internal error",
    "hang": "hang over 10 s (of CPU time)",
    "signal": "killed by a signal",
    "unlocated": "unlocated message",
    "output": "unbounded output",
    "control": "raw control characters shown",
}
GOOD = ("ok", "diagnostic")
# A case hangs when its process has used HANG_SECONDS of CPU time without
# ending, or has waited WALL_SECONDS (blocked) without ending. CPU time is what
# counts on a machine shared with other work, where a compile that takes 2 s
# alone takes 10 s of wall time.
HANG_SECONDS = 10.0
WALL_SECONDS = 120.0
_TICKS = os.sysconf("SC_CLK_TCK")
# One case in RUN_EVERY also runs `ptrace --dry-run` (maps created, programs loaded).
RUN_EVERY = 40
MAX_RUN_OUTPUT = 64 * 1024
LOCATED_LINE = re.compile(r"^(\S+:\d+:\d+: (error|warning|note): |ptrace: error: \S)")


# ---- seeds --------------------------------------------------------------------------------

def seed_scripts() -> list[str]:
    """The project's own scripts, in a stable order."""
    from tests.runtime.casefile import parse_cases
    from tests.runtime.test_docs_examples import DOCS, parse_examples

    found: list[str] = []
    for path in sorted((ROOT / "tests" / "runtime" / "cases").glob("*.case")):
        found.extend(case.prog for case in parse_cases(path) if case.prog)
    found.extend(case.prog for case in parse_examples(DOCS).cases)
    for folder in (ROOT / "tools", ROOT / "tests" / "diagnostics", CORPUS):
        found.extend(p.read_text(errors="surrogateescape") for p in sorted(folder.glob("*.bt")))
    return [text for text in found if "@@TRIGGERS@@" not in text]


# ---- mutations ----------------------------------------------------------------------------

TOKEN = re.compile(r'\s*("(?:\\.|[^"\\\n])*"|[A-Za-z_$@][\w$@]*|0[xX][0-9a-fA-F]+|\d+|\S)')


def tokens(text: str) -> list[str]:
    """The text cut before each token (each piece keeps the spaces before it)."""
    pieces = [m.group() for m in TOKEN.finditer(text)]
    rest = text[sum(map(len, pieces)):]
    return [*pieces, rest] if rest else pieces


def delete_tokens(rng: random.Random, text: str) -> str:
    pieces = tokens(text)
    for _ in range(rng.choice((1, 1, 2, 3))):
        if pieces:
            del pieces[rng.randrange(len(pieces))]
    return "".join(pieces)


def swap_tokens(rng: random.Random, text: str) -> str:
    pieces = tokens(text)
    if len(pieces) > 1:
        i, j = rng.randrange(len(pieces)), rng.randrange(len(pieces))
        pieces[i], pieces[j] = pieces[j], pieces[i]
    return "".join(pieces)


def duplicate_tokens(rng: random.Random, text: str) -> str:
    pieces = tokens(text)
    if pieces:
        i = rng.randrange(len(pieces))
        j = min(len(pieces), i + rng.randint(1, 6))
        pieces[j:j] = pieces[i:j] * rng.choice((1, 1, 2, 50))
    return "".join(pieces)


def insert_at(rng: random.Random, text: str, what: str) -> str:
    at = rng.randrange(len(text) + 1)
    return text[:at] + what + text[at:]


def random_bytes(rng: random.Random, text: str) -> str:
    data = bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
    return insert_at(rng, text, data.decode("utf-8", "surrogateescape"))


INVALID_UTF8 = (b"\xff", b"\xc3", b"\xe2\x82", b"\xed\xa0\x80", b"\xc0\xaf", b"\xf8\x88\x80\x80")


def invalid_utf8(rng: random.Random, text: str) -> str:
    return insert_at(rng, text, rng.choice(INVALID_UTF8).decode("utf-8", "surrogateescape"))


CONTROL = ("\x00", "\x01", "\x07", "\x08", "\x1b[31m", "\r", "\x0b", "\x0c", "\x7f", "\t")


def control_characters(rng: random.Random, text: str) -> str:
    return insert_at(rng, text, rng.choice(CONTROL))


DEPTHS = (10, 50, 100, 200, 240, 250, 300, 500, 999, 1001, 2000, 5000)


# Nestings as (what opens a level, the innermost part, what closes a level).
NESTED_EXPRESSIONS = (
    ("(", "1", ")"), ("@n[", "1", "]"), ("(", "1, 2", ")"), ("-", "1", ""), ("!", "1", ""),
    ("1 + ", "1", ""), ("1 ? ", "2", " : 3"), ("{ ", "1", " }"), ("(int64)", "1", ""),
    ("str(", "comm", ")"),
)
NESTED_STATEMENTS = (
    ("if (1) { ", "@x = 1;", " }"), ("{ ", "@x = 1;", " }"), ("unroll(2) { ", "@x = 1;", " }"),
)


def nested(rng: random.Random, forms: tuple[tuple[str, str, str], ...], depth: int) -> str:
    opening, inside, closing = rng.choice(forms)
    return opening * depth + inside + closing * depth


def into_body(rng: random.Random, text: str, statement: str) -> str:
    """The statement at the start of a probe body (a new probe if none is found)."""
    braces = [m.end() for m in re.finditer(r"\{", text)]
    if not braces or rng.random() < 0.2:
        return text + "\nBEGIN { " + statement + " }\n"
    at = rng.choice(braces)
    return text[:at] + " " + statement + " " + text[at:]


def deep_nesting(rng: random.Random, text: str) -> str:
    depth = rng.choice(DEPTHS)
    if rng.random() < 0.6:
        return into_body(rng, text, f"$x = {nested(rng, NESTED_EXPRESSIONS, depth)};")
    return into_body(rng, text, nested(rng, NESTED_STATEMENTS, depth))


def huge_literal(rng: random.Random, text: str) -> str:
    kind = rng.randrange(5)
    if kind == 0:
        literal = str(rng.randrange(10 ** rng.randint(19, 400)))
    elif kind == 1:
        literal = "0x" + "f" * rng.randint(17, 300)
    elif kind == 2:
        literal = '"' + "a" * rng.choice((1000, 5000, 100_000, 1_000_000)) + '"'
    elif kind == 3:
        literal = '"' + "\\x41" * rng.choice((300, 3000)) + '"'
    else:
        literal = "1" + "e9" * 3
    return into_body(rng, text, f"$h = {literal}; printf(\"%d\\n\", $h);"
                     if kind != 2 else f'printf("%s\\n", {literal});')


def long_identifier(rng: random.Random, text: str) -> str:
    name = "a" * rng.choice((100, 1000, 10_000, 100_000))
    statement = rng.choice((f"${name} = 1;", f"@{name} = count();", f"@{name}[1] = 1;",
                            f"{name}();", f"$x = {name};", f"@[{name}] = 1;"))
    return into_body(rng, text, statement)


UNKNOWN_PROBES = (
    "tracepoint:nosuch:event", "tracepoint:syscalls:nosuch", "tracepoint:*:*",
    "tracepoint:syscalls:*", "uprobe:/nonexistent:f", "uprobe:/bin/sh:nosuchfunction",
    "uprobe:/bin/sh:main+99999999", "uretprobe:libc:nosuch", "usdt:/bin/sh:p:n",
    "kprobe:nosuch", "kretprobe:vfs_read", "fentry:nosuch", "interval:s:0", "interval:xs:1",
    "profile:hz:0", "profile:hz:99999999999", "software:nosuch:1", "hardware:cycles:1",
    "watchpoint:0x0:8:rw", "iter:nosuch", "rawtracepoint:nosuch", "nosuch:a:b",
    "BEGIN:x", "self:signal:NOPE", "t:sched:sched_switch", "tracepoint:sched:sched_switch*",
)


def unknown_probe(rng: random.Random, text: str) -> str:
    head = re.search(r"^[ \t]*([A-Za-z][^\s{/]*)", text, re.M)
    probe = rng.choice(UNKNOWN_PROBES)
    if head is None or rng.random() < 0.3:
        return text + f"\n{probe} {{ @u = count(); }}\n"
    return text[:head.start(1)] + probe + text[head.end(1):]


UNKNOWN_FIELDS = ("args.nosuch", "args->nosuch", "curtask->nosuch", "curtask->mm->nosuch",
                  "((struct nosuch *)0)->x", "args.filename->x", "$t.7", "(1, 2).5",
                  "@m.x", "args", "ctx->x", "retval.x", "(struct task_struct)0")


def unknown_field(rng: random.Random, text: str) -> str:
    return into_body(rng, text, f"$f = {rng.choice(UNKNOWN_FIELDS)};")


def many_statements(rng: random.Random, text: str) -> str:
    count = rng.choice((50, 100, 300, 1500))
    statement = rng.choice(('printf("x %d\\n", pid);', "@c = count();", "$i = $i + 1;",
                            '@s[comm] = 1;'))
    body = "$i = 0; " + statement * count
    if rng.random() < 0.5:
        return into_body(rng, text, body)
    return into_body(rng, text, "if (nsecs > 0) { " + body + " }")


def many_probes(rng: random.Random, text: str) -> str:
    count = rng.choice((10, 50, 200, 2000))
    probe = rng.choice(("interval:s:1 { @c = count(); }",
                        "tracepoint:syscalls:sys_enter_getppid { @[pid] = count(); }",
                        "BEGIN { @b = 1; }"))
    return text + "\n" + "\n".join([probe] * count) + "\n"


CONFIG_VALUES = ("0", "-1", "99999999", "99999999999999999999", "1", '"x"', "true", "4097",
                 "1073741824")
CONFIG_KEYS = ("max_strlen", "max_map_keys", "perf_rb_pages", "log_size", "nosuch",
               "missing_probes", "str_trunc_trailer", "stack_mode")


def config_values(rng: random.Random, text: str) -> str:
    pairs = "; ".join(f"{rng.choice(CONFIG_KEYS)} = {rng.choice(CONFIG_VALUES)}"
                      for _ in range(rng.randint(1, 3)))
    return f"config = {{ {pairs} }}\n" + text


def loops(rng: random.Random, text: str) -> str:
    bound = rng.choice((10, 100, 1000, 100_000))
    statement = rng.choice((f"$i = 0; while ($i < {bound}) {{ $i++; }}",
                            f"for ($j : 0..{bound}) {{ @l = $j; }}",
                            f"unroll({bound}) {{ @l = 1; }}",
                            "while (1) { }", "$i = 0; while ($i < 10) { }"))
    return into_body(rng, text, statement)


def format_strings(rng: random.Random, text: str) -> str:
    call = rng.choice(('time("%H\\x00");', 'strftime("%H\\0x", nsecs);',
                       'printf("%' + "9" * rng.randint(3, 30) + 'd\\n", 1);',
                       'printf("%s %s %s %s %s %s %s %s\\n", 1);', 'printf("\\x00%d", 1);',
                       'system("echo \\0");', 'printf("%-*d", 1, 2);', 'cat("\\0");'))
    return into_body(rng, text, call)


MUTATIONS = (
    delete_tokens, delete_tokens, delete_tokens, swap_tokens, swap_tokens, duplicate_tokens,
    duplicate_tokens, random_bytes, invalid_utf8, control_characters, deep_nesting,
    deep_nesting, huge_literal, long_identifier, unknown_probe, unknown_probe, unknown_field,
    unknown_field, many_statements, many_probes, config_values, loops, format_strings,
)


@dataclass
class Case:
    number: int
    script: bytes
    mutations: list[str] = field(default_factory=list)


def make_case(seeds: list[str], seed: int, number: int) -> Case:
    """Case `number` of the run with seed `seed`: always the same script."""
    rng = random.Random(f"{seed}:{number}")
    text = rng.choice(seeds)
    names = []
    for _ in range(rng.choice((1, 1, 1, 2, 3))):
        if rng.random() < 0.05:
            other = rng.choice(seeds)
            cut, cut_other = rng.randrange(len(text) + 1), rng.randrange(len(other) + 1)
            text, name = text[:cut] + other[cut_other:], "splice"
        else:
            mutate = rng.choice(MUTATIONS)
            text, name = mutate(rng, text), mutate.__name__
        names.append(name)
    return Case(number, text.encode("utf-8", "surrogateescape"), names)


# ---- running cases ------------------------------------------------------------------------

class Worker:
    """A compile worker process; replaced when it hangs or dies."""

    def __init__(self, scratch: Path):
        self.errors = scratch / f"worker-{id(self)}.stderr"
        self.process = subprocess.Popen(
            [str(PYTHON), "-m", "tests.fuzz.worker", str(self.errors)], cwd=ROOT,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=_environment())

    def compile(self, script: bytes) -> tuple[str, str]:
        process = self.process
        assert process.stdin is not None and process.stdout is not None
        try:
            process.stdin.write(len(script).to_bytes(4, "big") + script)
            process.stdin.flush()
        except BrokenPipeError:
            return self._died()
        started, cpu = time.monotonic(), cpu_seconds(process.pid)
        while not select.select([process.stdout], [], [], 0.5)[0]:
            used = cpu_seconds(process.pid) - cpu
            if used > HANG_SECONDS or time.monotonic() - started > WALL_SECONDS:
                process.kill()
                process.wait()
                return "hang", (f"no answer after {used:.0f} s of CPU time "
                                f"({time.monotonic() - started:.0f} s)")
        line = process.stdout.readline().decode("utf-8", "replace")
        if not line:
            return self._died()
        outcome, _, detail = line.rstrip("\n").partition("\t")
        return outcome, detail

    def _died(self) -> tuple[str, str]:
        code = self.process.wait()
        if code < 0:
            return "signal", f"{signal.Signals(-code).name}: {_tail(self.errors)}"
        # A library that ends the process itself (LLVM's fatal errors) leaves its text.
        return "unlocated", f"exit {code}: {_tail(self.errors)}"

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def close(self) -> None:
        if self.process.poll() is None:
            assert self.process.stdin is not None
            self.process.stdin.close()
            try:
                self.process.wait(timeout=HANG_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.errors.unlink(missing_ok=True)


def _tail(path: Path) -> str:
    try:
        text = path.read_text(errors="replace").strip()
    except OSError:
        return ""
    return text.split("\n")[-1][:200] if text else ""


def _environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PTRACE_", "BPFTRACE_"))}
    env["PYTHONPATH"] = str(ROOT)
    return env


def run_cli(script: bytes, scratch: Path) -> tuple[str, str]:
    """The script through `ptrace --dry-run FILE`: maps created, programs loaded."""
    path = scratch / f"run-{threading.get_ident()}.bt"
    path.write_bytes(script)
    with tempfile.TemporaryFile() as output:
        process = subprocess.Popen([str(PTRACE), "--dry-run", str(path)], stdout=output,
                                   stderr=output, env=_environment(), cwd=scratch)
        started = time.monotonic()
        while process.poll() is None:
            used = cpu_seconds(process.pid)
            if used > HANG_SECONDS or time.monotonic() - started > WALL_SECONDS:
                process.kill()
                process.wait()
                return "hang", (f"--dry-run did not end after {used:.0f} s of CPU time "
                                f"({time.monotonic() - started:.0f} s)")
            time.sleep(0.05)
        output.seek(0)
        return classify_cli(process.returncode, output.read(MAX_RUN_OUTPUT + 1))


def cpu_seconds(pid: int) -> float:
    """The CPU time a process has used, with its children that ended (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return sum(int(f) for f in fields[11:15]) / _TICKS


def classify_cli(code: int, output: bytes) -> tuple[str, str]:
    text = output.decode("utf-8", "replace")
    lines = [line for line in text.split("\n") if line.strip()]
    first = lines[0][:200] if lines else ""
    if code < 0:
        return "signal", f"{signal.Signals(-code).name}: {first}"
    if len(output) > MAX_RUN_OUTPUT:
        return "output", f"{len(output)} bytes of output"
    if "internal error" in text or code not in (0, 1):
        return "internal", f"exit {code}: {first}"
    if code == 0:
        return "ok", ""
    if not lines or not LOCATED_LINE.match(lines[0]) or "LLVM" in text:
        return "unlocated", first
    return "diagnostic", first


@dataclass
class Result:
    case: Case
    outcome: str
    detail: str
    how: str  # "compile" or "--dry-run"


@dataclass
class Run:
    seed: int
    deadline: float
    limit: int | None
    seeds: list[str]
    scratch: Path
    jobs: int
    can_load: bool
    results: list[Result] = field(default_factory=list)
    next_number: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self) -> int | None:
        with self.lock:
            if time.monotonic() > self.deadline:
                return None
            if self.limit is not None and self.next_number >= self.limit:
                return None
            number = self.next_number
            self.next_number += 1
            return number

    def record(self, result: Result) -> None:
        with self.lock:
            self.results.append(result)

    def work(self) -> None:
        worker = Worker(self.scratch)
        try:
            while (number := self.take()) is not None:
                case = make_case(self.seeds, self.seed, number)
                outcome, detail = worker.compile(case.script)
                how = "compile"
                if not worker.alive:
                    worker.close()
                    worker = Worker(self.scratch)
                if outcome in GOOD and self.can_load and number % RUN_EVERY == 0:
                    outcome, detail = run_cli(case.script, self.scratch)
                    how = "--dry-run"
                self.record(Result(case, outcome, detail, how))
        finally:
            worker.close()

    def go(self) -> None:
        threads = [threading.Thread(target=self.work) for _ in range(self.jobs)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()


def report(run: Run, elapsed: float, keep: Path) -> tuple[str, list[Result]]:
    """The table of outcomes, and the failing cases (their scripts written to `keep`)."""
    counts = {name: 0 for name in OUTCOMES}
    for result in run.results:
        counts[result.outcome] = counts.get(result.outcome, 0) + 1
    loaded = sum(1 for r in run.results if r.how == "--dry-run")
    lines = [f"seed {run.seed}: {len(run.results)} scripts in {elapsed:.0f} s "
             f"({loaded} also loaded with --dry-run)", "",
             "| outcome | scripts |", "|---|---|"]
    lines.extend(f"| {OUTCOMES.get(name, name)} | {count} |" for name, count in counts.items())
    failing = sorted((r for r in run.results if r.outcome not in GOOD),
                     key=lambda r: r.case.number)
    if failing:
        keep.mkdir(parents=True, exist_ok=True)
        lines.append("")
        lines.append(f"failing cases (scripts in {keep}):")
    for result in failing:
        path = keep / f"seed{run.seed}-{result.case.number}.bt"
        path.write_bytes(result.case.script)
        lines.append(f"  {path.name} [{result.how}, {'+'.join(result.case.mutations)}] "
                     f"{result.outcome}: {result.detail}")
    return "\n".join(lines), failing


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/fuzz", description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=1.0, help="how long to run")
    parser.add_argument("--seed", type=int, default=None, help="the run's seed (default: time)")
    parser.add_argument("--scripts", type=int, default=None, help="stop after this many scripts")
    parser.add_argument("--jobs", type=int, default=2, help="compile workers")
    parser.add_argument("--keep", type=Path, default=None,
                        help="where failing scripts are written (default: a temporary folder)")
    parser.add_argument("--no-load", action="store_true",
                        help="compile only; never run ptrace --dry-run")
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else int(time.time())
    keep = args.keep or Path(tempfile.gettempdir()) / f"ptrace-fuzz-{seed}"
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="ptrace-fuzz-") as scratch:
        run = Run(seed, started + args.minutes * 60, args.scripts, seed_scripts(), Path(scratch),
                  args.jobs, can_load=not args.no_load and os.geteuid() == 0)
        run.go()
    text, failing = report(run, time.monotonic() - started, keep)
    print(text)
    return 1 if failing else 0
