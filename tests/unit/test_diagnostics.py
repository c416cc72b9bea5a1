"""Golden diagnostics, and no crash on malformed scripts.

- Every `tests/diagnostics/NAME.bt` renders exactly `NAME.expected` (what
  ptrace prints on stderr). After a deliberate change, run
  `scripts/regen-diagnostics` and review the diff.
- Malformed scripts (the golden ones, and every prefix of a few valid scripts
  that ends at a token) compile or give located errors, never a traceback.
  All are compiled in-process; a sample of them also runs through the real
  CLI, which costs a process start each.
"""

from __future__ import annotations

import math
import re
import subprocess
from pathlib import Path

import pytest

from ptrace.compile import compile
from ptrace.diagnostics import (
    SHOWN_PER_SEVERITY,
    CompileError,
    Diagnostic,
    Severity,
    Source,
    Span,
    render_all,
)
from tests.diagnostics.golden import HERE, case_scripts, fixture_machine, render_case

GOLDEN = case_scripts()

VALID_SCRIPTS = (
    'tracepoint:syscalls:sys_enter_openat /pid != 1 && comm != "systemd"/ {\n'
    "  @opens[comm, pid] = count();\n"
    "  $name = str(args.filename);\n"
    '  printf("%-16s %6d %s\\n", comm, pid, $name);\n'
    "}\n",

    'BEGIN { printf("Tracing writes... Hit Ctrl-C to end.\\n"); @start = nsecs; }\n'
    "// bytes written, by command\n"
    "tracepoint:syscalls:sys_enter_write { @bytes[comm] = sum(args.count); }\n"
    'END { printf("ran for %d ms\\n", (nsecs - @start) / 1000000); clear(@start); }\n',

    "tracepoint:sched:sched_switch\n"
    "{\n"
    "  if (args.prev_pid == 0) {\n"
    "    @idle[cpu] = nsecs;\n"
    "  } else if (args.prev_state > 0) {\n"
    "    @blocked[args.prev_comm] = lhist(args.prev_prio, 0, 140, 10);\n"
    "  } else {\n"
    "    @running++;\n"
    "  }\n"
    "}\n",

    "interval:ms:100 { $t = (cpu, (uint8)rand); @ticks[$t.0] = max($t.1); }\n"
    "profile:hz:99 /cpu == 0/ { @samples = count(); }\n"
    "interval:s:5 { print(@ticks, 3); exit(0); }\n",

    "tracepoint:syscalls:sys_exit_openat\n"
    "{\n"
    "  $ret = args.ret;\n"
    '  @errors[$ret < 0 ? "fail" : "ok"] = count();\n'
    "  let $big: uint64 = 0x10_000 << 2;\n"
    "  if (!($ret >= 0)) { delete(@last, tid); }\n"
    "  @last[tid] = $ret * -1 + $big % 7; /* done */\n"
    "}\n",
)

# Roughly ptrace's tokens: enough to cut scripts where a token ends.
TOKEN = re.compile(r'"(?:[^"\\\n]|\\.)*"|/\*.*?\*/|//[^\n]*|[A-Za-z_$@][\w:*-]*|\d\w*'
                   r"|->|\.\.|[-+*/%&|^<>=!]=?|\S", re.DOTALL)


def token_prefixes(text: str) -> list[str]:
    """Every proper prefix of `text` that ends at the end of a token."""
    return [text[: m.end()] for m in TOKEN.finditer(text) if m.end() < len(text.rstrip())]


PREFIXES = list(dict.fromkeys(p for script in VALID_SCRIPTS for p in token_prefixes(script)))
# Inputs that once crashed or gave an unlocated message (each fixed with this test).
FORMERLY_BROKEN = {
    "empty": "",
    "blank": "  \n\n",
    "comment-only": "// nothing yet\n",
    "include-only": "#include <linux/sched.h>\n",
    "percent-at-end": 'BEGIN { printf("100%\\n"); }\n',
    "non-latin-1-string": 'BEGIN { @arrow = "→"; }\n',
    "duration-on-exponent": "BEGIN { @x = 1e6ms; }\n",
    "comment-after-predicate": "BEGIN /1/ /* c */ { exit(); }\n",
    "huge-interval": "interval:s:99999999999999999999999 { exit(); }\n",
}
# By test id; a few prefixes are whole programs, and must compile.
MALFORMED = {path.stem: path.read_text() for path in GOLDEN} | {
    f"prefix-{i}": text for i, text in enumerate(PREFIXES)} | FORMERLY_BROKEN
CLI_RUNS = 60
CLI_SAMPLE = dict(list(MALFORMED.items())[:: math.ceil(len(MALFORMED) / CLI_RUNS)])

def check_diagnostics(text: str, diagnostics: tuple[Diagnostic, ...]) -> None:
    """Errors are reported, each at a line and column inside the script, on one line."""
    assert any(d.severity is Severity.ERROR for d in diagnostics)
    lines = text.split("\n")
    for d in diagnostics:
        assert d.span is not None, f"no location for: {d.message}"
        assert 1 <= d.span.line <= len(lines), f"line {d.span.line} for: {d.message}"
        assert 1 <= d.span.col <= len(lines[d.span.line - 1]) + 1, \
            f"column {d.span.col} for: {d.message}"
        assert "\n" not in d.message


def compile_in_process(text: str) -> None:
    try:
        compile(Source("-e", text), machine=fixture_machine())
    except CompileError as error:
        check_diagnostics(text, error.diagnostics)


# ---- golden files ----

def test_every_case_has_its_expected_output() -> None:
    scripts = {p.stem for p in GOLDEN}
    expected = {p.stem for p in HERE.glob("*.expected")}
    assert scripts == expected, "run scripts/regen-diagnostics"
    assert len(scripts) >= 60


@pytest.mark.parametrize("script", GOLDEN, ids=[p.stem for p in GOLDEN])
def test_golden_diagnostics(script: Path) -> None:
    expected = script.with_suffix(".expected").read_text()
    assert render_case(script) == expected, "run scripts/regen-diagnostics and review the diff"


# ---- robustness ----

@pytest.mark.parametrize("text", VALID_SCRIPTS)
def test_valid_scripts_compile(text: str) -> None:
    compile(Source("-e", text), machine=fixture_machine())


@pytest.mark.parametrize("text", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_scripts_in_process(text: str) -> None:
    compile_in_process(text)


@pytest.mark.parametrize("text", CLI_SAMPLE.values(), ids=CLI_SAMPLE.keys())
def test_malformed_scripts_through_the_cli(text: str, ptrace_exe: list[str]) -> None:
    # `-d ast` stops after compiling: a prefix that is a whole program loads nothing.
    run = subprocess.run([*ptrace_exe, "-d", "ast", "-e", text], capture_output=True,
                         text=True, timeout=60)
    assert run.returncode in (0, 1), run.stderr
    assert "Traceback" not in run.stderr
    assert "internal error" not in run.stderr
    if run.returncode == 1:
        assert run.stderr.startswith("-e:"), run.stderr
        assert "error:" in run.stderr


# ---- hostile input ----

NESTED = {
    "if": lambda d: "BEGIN { $x = 1;\n" + "if ($x) {\n" * d + 'printf("x\\n");\n' + "}\n" * d + "}",
    "block": lambda d: "BEGIN {\n" + "{\n" * d + 'printf("x\\n");\n' + "}\n" * d + "}",
    "parentheses": lambda d: "BEGIN { @x = " + "(" * d + "1" + ")" * d + "; }",
    "negation": lambda d: "BEGIN { @x = " + "-(" * d + "1" + ")" * d + "; }",
    "not": lambda d: "BEGIN { @x = " + "!" * d + "1; }",
    "sum": lambda d: "BEGIN { @x = 1" + " + 1" * d + "; }",
    "conditional": lambda d: "BEGIN { @x = " + "1 ? " * d + "1" + " : 2" * d + "; }",
    "str": lambda d: 'BEGIN { printf("%s\\n", ' + "str(" * d + '"a"' + ")" * d + "); }",
    "predicate": lambda d: "BEGIN /" + "-(" * d + "1" + ")" * d + "/ { exit(); }",
}
# Depths a person could write, which compile through codegen; and depths that
# are refused (each once made a RecursionError).
ACCEPTED = {"if": 200, "block": 200, "parentheses": 5000, "negation": 900, "not": 900,
            "sum": 900, "conditional": 900, "str": 900, "predicate": 900}
REFUSED = {"if": 1000, "block": 2000, "negation": 2000, "not": 5000, "sum": 5000,
           "conditional": 2000, "str": 2000, "predicate": 5000}


@pytest.mark.parametrize("kind", ACCEPTED)
def test_nesting_a_person_could_write_compiles(kind: str) -> None:
    compile(Source("-e", NESTED[kind](ACCEPTED[kind])), machine=fixture_machine())


@pytest.mark.parametrize("kind", REFUSED)
def test_deeper_nesting_is_refused_at_its_place(kind: str) -> None:
    text = NESTED[kind](REFUSED[kind])
    with pytest.raises(CompileError) as caught:
        compile(Source("-e", text), machine=fixture_machine())
    [diagnostic] = caught.value.diagnostics
    assert diagnostic.message == "the script is nested too deeply here"
    check_diagnostics(text, caught.value.diagnostics)


def test_invalid_utf8_is_refused_at_the_first_bad_byte() -> None:
    text = b'BEGIN { @a = "\xc3\xa9"; }\n// caf\xe9 \xff\n'.decode("utf-8", "surrogateescape")
    with pytest.raises(CompileError) as caught:
        compile(Source("-e", text), machine=fixture_machine())
    [diagnostic] = caught.value.diagnostics
    assert diagnostic.message == "the script is not valid UTF-8 (byte 0xe9)"
    assert diagnostic.span is not None
    assert (diagnostic.span.line, diagnostic.span.col) == (2, 7)


def test_diagnostics_are_capped_per_severity() -> None:
    source = Source("-e", "x")
    diagnostics = [Diagnostic(severity, f"{severity.value} {i}", Span(source, 1, 1, 1, 2))
                   for severity, count in ((Severity.ERROR, 50), (Severity.WARNING, 21))
                   for i in range(count)]
    lines = render_all(diagnostics).split("\n")
    headlines = [line for line in lines if line.startswith("-e:")]
    assert len(headlines) == 2 * SHOWN_PER_SEVERITY
    assert headlines[SHOWN_PER_SEVERITY - 1] == f"-e:1:1: error: error {SHOWN_PER_SEVERITY - 1}"
    assert lines[-1] == "ptrace: and 30 more errors and 1 more warning"
