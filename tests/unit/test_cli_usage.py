"""The command line: the option table and what is made from it (help, man page,
completion), -l against the fixture machine, -B's buffering, -k, --info, -t,
and the one-sentence refusals without root or BPF.

Everything goes through `ptrace.cli.main(argv)` or the functions it calls;
nothing here loads a program, so it all runs without root.
"""

from __future__ import annotations

import errno
import io
import os
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
from ptrace.runtime import features
from ptrace.runtime.features import PROBE_CHECKS

from ptrace import __version__, cli
from ptrace.cli import BufferedOutput, main, tool_description
from ptrace.cli_probes import FORMS, ListingError, info_lines, list_probes, type_definitions
from ptrace.cli_usage import (
    DUMP_STAGES,
    EXAMPLES,
    GENERATED,
    GROUPS,
    OPTIONS,
    SETTING_HELP,
    help_text,
    parse,
    usage_text,
)
from ptrace.machine import FixtureMachine, find_binary
from ptrace.options import SETTINGS, Options
from ptrace.types.btf import VMLINUX, Btf
from tests.unit.fixtures import compile_text, fixture_machine

ROOT = Path(__file__).resolve().parents[2]
ISSUE_FLAGS = ("-e", "-l", "-p", "-c", "-o", "-f", "-B", "-q", "-v", "-d", "-k", "--unsafe",
               "--dry-run", "--info", "-V", "-h", "-t", "-i")
BEGIN = "BEGIN { exit(); }"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def as_user(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)


@pytest.fixture
def fixture_live_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    """-l and --info read the fixture tracepoints instead of tracefs."""
    monkeypatch.setattr("ptrace.machine.LiveMachine", fixture_machine)
    monkeypatch.setattr(features, "tracefs_problem", lambda: None)


# ---- the option table and what is made from it ---------------------------------------------

def test_the_table_has_every_flag_of_the_issue() -> None:
    flags = {flag for option in OPTIONS for flag in option.flags}
    assert set(ISSUE_FLAGS) <= flags
    assert len(flags) == sum(len(o.flags) for o in OPTIONS), "a flag is declared twice"
    assert {o.group for o in OPTIONS} == set(GROUPS)


@pytest.mark.parametrize("flag", ["-h", "--help"])
def test_help_has_bpftrace_sections_and_every_option(capsys: pytest.CaptureFixture[str],
                                                     flag: str, as_user: None) -> None:
    code, out, err = run(capsys, flag)
    assert (code, err) == (0, "")
    assert out == help_text()
    headings = [line for line in out.splitlines() if line.endswith(":") and line.isupper()]
    assert headings == ["USAGE:", *(f"{g}:" for g in GROUPS), "ENVIRONMENT:", "EXAMPLES:"]
    for option in OPTIONS:
        assert f"    {option.synopsis} " in out
        assert option.help.split()[0] in out
    for key in SETTINGS:
        assert f"PTRACE_{key.upper()} " in out
    assert "BPFTRACE_<KEY>" in out


def test_every_setting_is_described() -> None:
    assert set(SETTING_HELP) == set(SETTINGS)


def test_dump_stages_are_the_compilers() -> None:
    from ptrace.compile import DUMP_STAGES as COMPILER_STAGES

    assert DUMP_STAGES == COMPILER_STAGES


@pytest.mark.parametrize("name", sorted(GENERATED))
def test_generated_docs_are_up_to_date(name: str) -> None:
    path = ROOT / "docs" / name
    assert path.read_text() == GENERATED[name](), f"run scripts/gen-cli-docs to update {path}"


def test_man_page_documents_every_option_and_setting() -> None:
    page = GENERATED["ptrace.1"]()
    for option in OPTIONS:
        for flag in option.flags:
            assert f"\\fB{flag.replace('-', chr(92) + '-')}\\fR" in page
    for key in SETTINGS:
        assert f"PTRACE_{key.upper()}" in page
    for section in ("NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "ENVIRONMENT",
                    "EXIT STATUS", "EXAMPLES"):
        assert f".SH {section}\n" in page


@pytest.mark.skipif(shutil.which("groff") is None, reason="groff is not installed")
def test_man_page_renders_without_warnings(tmp_path: Path) -> None:
    page = tmp_path / "ptrace.1"
    page.write_text(GENERATED["ptrace.1"]())
    result = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z", str(page)],
                            capture_output=True, text=True, check=False)
    assert (result.returncode, result.stderr) == (0, "")


def complete(words: list[str]) -> list[str]:
    """What the generated bash completion offers for the last word."""
    script = (f"source {shlex.quote(str(ROOT / 'docs' / 'ptrace.bash-completion'))}\n"
              f"COMP_WORDS=({' '.join(shlex.quote(w) for w in words)})\n"
              f"COMP_CWORD={len(words) - 1}\n_ptrace\nprintf '%s\\n' \"${{COMPREPLY[@]}}\"\n")
    result = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True)
    return result.stdout.split()


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
def test_bash_completion_offers_options_and_their_values() -> None:
    assert complete(["ptrace", "-f", ""]) == ["text", "json"]
    assert complete(["ptrace", "-B", ""]) == ["line", "full", "none"]
    assert complete(["ptrace", "-d", "ir"]) == ["ir", "ir-opt"]
    assert complete(["ptrace", "-d", "codegen"]) == ["codegen", "codegen-opt"]
    assert complete(["ptrace", "--no-feature", "k"]) == ["kprobe_multi", "kprobe_session"]
    assert complete(["ptrace", "--d"]) == ["--debuginfo", "--dry-run"]
    offered = complete(["ptrace", "-"])
    assert {flag for option in OPTIONS for flag in option.flags} == set(offered)


@pytest.mark.parametrize("command", [c for c, _ in EXAMPLES if " -e " in c])
def test_examples_compile(command: str) -> None:
    argv = shlex.split(command)
    program = argv[argv.index("-e") + 1]
    compile_text(program, Options(has_command="-c" in argv))


def test_version(capsys: pytest.CaptureFixture[str], as_user: None) -> None:
    assert run(capsys, "-V") == (0, f"ptrace v{__version__}\n", "")
    assert run(capsys, "--version") == (0, f"ptrace v{__version__}\n", "")


# ---- usage errors and arguments ------------------------------------------------------------

@pytest.mark.parametrize("argv", [
    ["-Z", "-e", BEGIN],
    ["-f", "xml", "-e", BEGIN],
    ["-B", "sometimes", "-e", BEGIN],
    ["-d", "nosuchstage", "-e", BEGIN],
    ["-p", "notanumber", "-e", BEGIN],
    ["-idonotexist"],
])
def test_a_wrong_flag_is_one_line_then_the_usage(capsys: pytest.CaptureFixture[str],
                                                 argv: list[str]) -> None:
    code, out, err = run(capsys, *argv)
    assert (code, out) == (1, "")
    first, rest = err.split("\n", 1)
    assert first.startswith("ptrace: error: ") and first.endswith("(ptrace -h lists the options)")
    assert rest == "\n" + usage_text()
    assert usage_text().startswith("USAGE:\n    ptrace [options] FILE [ARG ...]\n")


def test_dump_takes_bpftrace_stage_names(capsys: pytest.CaptureFixture[str],
                                         as_user: None) -> None:
    program = "BEGIN { @x = 1 + 2; exit(); }"

    def dumped(*stages: str) -> str:
        code, out, err = run(capsys, *(a for s in stages for a in ("-d", s)), "-e", program)
        assert (code, err) == (0, "")
        return out

    ours = {stage: dumped(stage) for stage in DUMP_STAGES}
    assert dumped("codegen") == ours["ir"] and dumped("codegen-opt") == ours["ir-opt"]
    assert dumped("parse") == ours["ast"] and dumped("dis") == ours["asm"]
    assert dumped("codegen-opt,parse", "ast") == ours["ir-opt"] + ours["ast"]
    assert dumped("ir", "asm,ast,ir") == ours["ir"] + ours["asm"] + ours["ast"]


@pytest.mark.parametrize("stage", ["libbpf", "ast,libbpf"])
def test_dump_of_a_stage_ptrace_lacks_is_one_sentence(capsys: pytest.CaptureFixture[str],
                                                      stage: str) -> None:
    code, out, err = run(capsys, "-d", stage, "-e", BEGIN)
    assert (code, out) == (1, "")
    assert err.startswith(f"ptrace: error: -d {stage.split(',')[-1]}: ") and err.count("\n") == 1


def test_no_feature_takes_bpftrace_names(capsys: pytest.CaptureFixture[str]) -> None:
    args = parse(["--no-feature", "kprobe_multi,uprobe_multi", "--no-feature", "uprobe_multi",
                  "-e", BEGIN])
    cli._check(args)
    assert args.no_feature == ("kprobe_multi", "uprobe_multi")
    code, out, err = run(capsys, "--no-feature", "uprobe_multi,fast", "-e", BEGIN)
    assert (code, out) == (1, "")
    assert err.startswith("ptrace: error: argument --no-feature: invalid choice: 'fast' "
                          "(choose from uprobe_multi, kprobe_multi, kprobe_session) ")


@pytest.mark.parametrize("argv", [
    ["-p", "1", "-c", "ls", "-e", BEGIN],
    ["-l", "-e", BEGIN, "pattern"],
    ["-l", "-t", "execsnoop"],
    ["-l", "a", "b"],
    ["-e", BEGIN, "-t", "tool"],
    ["-i", "-e", BEGIN],
])
def test_usage_errors_are_one_line_and_exit_1(capsys: pytest.CaptureFixture[str],
                                              argv: list[str]) -> None:
    code, out, err = run(capsys, *argv)
    assert (code, out) == (1, "")
    assert err.startswith("ptrace: error: ") and err.count("\n") == 1, err


def test_options_may_follow_the_program_and_its_arguments() -> None:
    args = parse(["script.bt", "5", "-q", "x"])
    assert args.quiet and args.args == ["script.bt", "5", "x"]


def test_double_dash_separates_positional_parameters() -> None:
    args = parse(["-e", BEGIN, "--", "-1", "-q", "--"])
    assert not args.quiet and args.args == ["-1", "-q", "--"]


def test_double_dash_parameters_reach_the_program(capsys: pytest.CaptureFixture[str],
                                                  as_user: None) -> None:
    program = "BEGIN { @x = $1 + 1; exit(); }"
    assert run(capsys, "-d", "ast", "-e", program, "--", "-5")[0] == 0
    code, _, err = run(capsys, "-d", "ast", "-e", program, "--", "-x")
    assert code == 1 and "'+' needs integers" in err  # $1 is the string "-x"
    code, _, err = run(capsys, "-d", "ast", "-e", program, "-x")
    assert (code, err) == (1, "ptrace: error: unrecognized arguments: -x "
                              "(ptrace -h lists the options)\n\n" + usage_text())


def test_buffering_modes_parse() -> None:
    assert [parse(["-B", mode, "-e", BEGIN]).buffering for mode in ("line", "full", "none")] \
        == ["line", "full", "none"]
    assert parse(["-e", BEGIN]).buffering is None


# ---- -B: when output reaches the stream ----------------------------------------------------

class Stream(io.StringIO):
    """A text stream that counts its flushes and remembers what each one sent."""

    def __init__(self) -> None:
        super().__init__()
        self.flushes = 0
        self.sent: list[str] = []

    def flush(self) -> None:
        self.flushes += 1
        self.sent.append(self.getvalue())


def test_none_flushes_after_every_write() -> None:
    stream = Stream()
    out = BufferedOutput(stream, "none")
    out.write("a")
    out.write("b\n")
    assert stream.sent == ["a", "ab\n"]


def test_line_flushes_complete_lines() -> None:
    stream = Stream()
    out = BufferedOutput(stream, "line")
    out.write("partial")
    out.flush()  # the run's flush after a batch: the mode decides
    assert stream.flushes == 0
    out.write(" line\nnext")
    assert stream.sent == ["partial line\n"]
    out.write(" one\nand\nmore\n")
    assert stream.sent[-1] == "partial line\nnext one\nand\nmore\n"
    assert stream.flushes == 2
    out.close()
    assert stream.flushes == 3 and not stream.closed


def test_full_flushes_when_the_buffer_fills_and_at_close() -> None:
    stream = Stream()
    out = BufferedOutput(stream, "full")
    line = "x" * 99 + "\n"
    count = BufferedOutput.BUFFER_SIZE // len(line)
    for _ in range(count):
        out.write(line)
        out.flush()
    assert stream.flushes == 0 and stream.getvalue() == ""
    out.write(line)
    assert stream.flushes == 1 and stream.getvalue() == line * (count + 1)
    out.write("tail")
    out.close()
    assert stream.getvalue().endswith(line + "tail") and stream.flushes == 2
    out.close()
    assert stream.flushes == 2 and not stream.closed


# ---- -k ------------------------------------------------------------------------------------

@pytest.mark.parametrize(("flags", "count"), [([], 0), (["-k"], 1), (["-kk"], 2),
                                               (["-k", "-k"], 2)])
def test_k_counts(flags: list[str], count: int) -> None:
    """-k is counted; the CLI checks reads with any count (bpftrace 0.26's -k)."""
    assert parse([*flags, "-e", BEGIN]).helper_errors == count


# ---- without root, without BPF -------------------------------------------------------------

@pytest.mark.parametrize("argv", [["-e", BEGIN], ["--dry-run", "-e", BEGIN], ["-"]])
def test_without_root_one_sentence_and_exit_1(capsys: pytest.CaptureFixture[str],
                                              monkeypatch: pytest.MonkeyPatch, as_user: None,
                                              argv: list[str]) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(BEGIN))
    code, out, err = run(capsys, *argv)
    assert (code, out) == (1, "")
    assert err == "ptrace: error: loading BPF programs needs root: run ptrace with sudo\n"


@pytest.mark.parametrize("argv", [["-d", "ast", "-e", BEGIN], ["-h"], ["-V"], ["--info"],
                                  ["-l", "tracepoint:sched:*"], ["-t"]])
def test_without_root_these_work(capsys: pytest.CaptureFixture[str], as_user: None,
                                 fixture_live_machine: None, argv: list[str]) -> None:
    code, _, err = run(capsys, *argv)
    assert (code, err) == (0, "")


def test_without_bpf_one_sentence_and_exit_1(capsys: pytest.CaptureFixture[str],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    monkeypatch.setattr(features, "bpf_errno", lambda: errno.ENOSYS)
    code, out, err = run(capsys, "-e", BEGIN)
    assert (code, out) == (1, "")
    assert err == ("ptrace: error: this kernel has no BPF: the bpf() system call does not "
                   "exist here\n")


def test_bpf_problems_are_sentences(monkeypatch: pytest.MonkeyPatch) -> None:
    assert features.bpf_problem(0) is None
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    assert "lockdown" in (features.bpf_problem(errno.EPERM) or "")
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert features.bpf_problem(errno.EPERM) == features.NOT_ROOT


# ---- --info --------------------------------------------------------------------------------

def test_info_gives_each_probe_type_a_verdict(capsys: pytest.CaptureFixture[str],
                                              as_user: None) -> None:
    code, out, err = run(capsys, "--info")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    for heading in ("System", "Kernel features", "Probe types"):
        assert heading in lines
    assert "  user: uid 1000, not root: programs cannot be loaded" in lines
    for feature in ("bpf() system call", "BTF", "tracefs", "ring buffer maps"):
        assert any(line.startswith(f"  {feature}: ") for line in lines), feature
    verdicts = {name: verdict(lines, name) for name in PROBE_CHECKS}
    assert len(lines) == lines.index("Probe types") + 1 + len(PROBE_CHECKS)
    assert {v.split(":")[0] for v in verdicts.values()} <= {"yes", "no", "unknown"}


def verdict(lines: list[str], name: str) -> str:
    """The verdict on a line "  NAME:   VERDICT"."""
    (line,) = [line for line in lines if line.startswith(f"  {name}:")]
    return line.split(":", 1)[1].strip()


def test_info_verdicts_follow_the_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(features, "hardware_errno", lambda: errno.ENOENT)
    monkeypatch.setattr(features, "tracefs_problem", lambda: "tracefs is not mounted")
    monkeypatch.setattr(features, "kernel_release", lambda: (5, 4))
    lines = info_lines(fixture_machine())
    assert verdict(lines, "ring buffer maps") == "no: kernel 5.4 < 5.8"
    assert verdict(lines, "hardware").startswith("no: no hardware performance counters")
    assert verdict(lines, "tracepoint") == "no: tracefs is not mounted"
    assert verdict(lines, "rawtracepoint") == "yes: kernel 5.4, needs 4.17"
    assert verdict(lines, "uprobe_multi") == "no: kernel 5.4, needs 6.6"


def test_info_names_the_link_kinds_bpftrace_reports(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(features, "kernel_release", lambda: (6, 18))
    monkeypatch.setattr(features, "kprobes_available", lambda: True)
    lines = info_lines(fixture_machine())
    for name in ("kprobe_multi", "kprobe_session", "uprobe_multi"):
        assert verdict(lines, name).startswith("yes: kernel 6.18, needs "), name
    monkeypatch.setattr(features, "kprobes_available", lambda: False)
    assert verdict(info_lines(fixture_machine()), "kprobe_session") == \
        "no: the kernel has no kprobes"


# ---- -l ------------------------------------------------------------------------------------

def test_list_tracepoints_by_glob() -> None:
    machine = fixture_machine()
    assert list_probes("tracepoint:syscalls:sys_enter_open*", False, machine) == [
        "tracepoint:syscalls:sys_enter_openat"]
    assert list_probes("t:syscalls:sys_*_openat", False, machine) == [
        "tracepoint:syscalls:sys_enter_openat", "tracepoint:syscalls:sys_exit_openat"]
    assert list_probes("*openat*", False, machine) == [
        "tracepoint:syscalls:sys_enter_openat", "tracepoint:syscalls:sys_exit_openat"]
    assert list_probes("tracepoint:nosuch:*", False, machine) == []


def test_list_a_whole_provider_and_everything() -> None:
    machine = fixture_machine()
    tracepoints = sorted(f"tracepoint:{c}:{e}" for c, e in machine.tracepoints())
    assert list_probes("tracepoint", False, machine) == tracepoints
    assert list_probes("t", False, machine) == tracepoints
    assert list_probes("interval", False, machine) == sorted(FORMS["interval"])
    assert list_probes("begin", False, machine) == ["BEGIN"]
    assert list_probes("profile:h*", False, machine) == ["profile:hz:"]
    everything = list_probes(None, False, machine)
    assert everything == list_probes("*", False, machine)
    assert {"BEGIN", "END", "interval:s:", *tracepoints} <= set(everything)


def test_list_verbose_shows_fields_as_declared() -> None:
    machine = fixture_machine()
    assert list_probes("tracepoint:sched:sched_switch", True, machine) == [
        "tracepoint:sched:sched_switch",
        "    char prev_comm[16]",
        "    pid_t prev_pid",
        "    int prev_prio",
        "    long prev_state",
        "    char next_comm[16]",
        "    pid_t next_pid",
        "    int next_prio",
    ]
    assert "    __data_loc char[] filename" in list_probes(
        "tracepoint:sched:sched_process_exec", True, machine)
    assert "    const char * filename" in list_probes(
        "tracepoint:syscalls:sys_enter_openat", True, machine)
    assert list_probes("BEGIN", True, machine) == ["BEGIN"]


def test_list_functions_of_a_binary() -> None:
    libc = find_binary("libc")
    if libc is None:
        pytest.skip("no libc found")
    assert list_probes("uprobe:libc:malloc", False, fixture_machine()) == [
        f"uprobe:{libc}:malloc"]
    assert f"uretprobe:{libc}:malloc" in list_probes("ur:libc:mall*", False, fixture_machine())


def test_list_perf_events_and_raw_tracepoints() -> None:
    machine = fixture_machine()
    assert list_probes("software:*faults", False, machine) == [
        "software:alignment-faults:", "software:emulation-faults:", "software:faults:",
        "software:major-faults:", "software:minor-faults:", "software:page-faults:"]
    assert list_probes("h:cache*", False, machine) == ["hardware:cache-misses:",
                                                         "hardware:cache-references:"]
    assert list_probes("rt:sched_sw*", False, machine) == ["rawtracepoint:sched_switch"]
    assert "software:cpu-clock:" in list_probes(None, False, machine)
    assert "rawtracepoint:sched_switch" in list_probes(None, False, machine)


def test_list_a_programs_probes(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                as_user: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """-l -e PROGRAM and -l FILE: the probes the program attaches, wildcards expanded."""
    monkeypatch.setattr("ptrace.machine.LiveMachine", lambda: fixture_machine())
    program = ("tracepoint:sched:sched_process_e* { } hardware:cache-misses:10 { exit(); }\n"
               "BEGIN { } tracepoint:sched:sched_process_exit { }")
    expected = ("tracepoint:sched:sched_process_exec\ntracepoint:sched:sched_process_exit\n"
                "hardware:cache-misses:\nBEGIN\n")  # a perf event as -l lists it
    assert run(capsys, "-l", "-e", program) == (0, expected, "")
    script = tmp_path / "probes.bt"
    script.write_text(program)
    assert run(capsys, "-l", str(script)) == (0, expected, "")
    code, out, err = run(capsys, "-l", "-e", "tracepoint:sched:nosuch { }")
    assert (code, out) == (1, "")
    assert "tracepoint 'sched:nosuch' does not exist" in err


def test_list_a_missing_bt_file_as_a_pattern(capsys: pytest.CaptureFixture[str],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("ptrace.machine.LiveMachine", lambda: fixture_machine())
    assert run(capsys, "-l", "no_such_file.bt") == (
        0, "", "ptrace: warning: no_such_file.bt looks like a file name, but there is no such "
               "file; listing it as a pattern\n")


def test_list_patterns_separated_by_commas(capsys: pytest.CaptureFixture[str],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("ptrace.machine.LiveMachine", lambda: fixture_machine())
    assert run(capsys, "-l", "tracepoint:sched:sched_switch,rt:sched_sw*") == (
        0, "tracepoint:sched:sched_switch\nrawtracepoint:sched_switch\n", "")


@pytest.mark.skipif(not Path(VMLINUX).exists(), reason="no kernel BTF here")
def test_list_types_and_raw_tracepoint_arguments() -> None:
    machine = FixtureMachine({}, kernel_types=Btf.load(VMLINUX))
    lines = type_definitions("struct fd, struct list_head,enum pid_type", machine)
    assert lines[:3] == ["vmlinux: struct fd {", "    long unsigned int word;", "};"]
    assert lines[3:7] == ["vmlinux: struct list_head {", "    struct list_head *next;",
                          "    struct list_head *prev;", "};"]
    assert lines[7] == "vmlinux: enum pid_type {" and "    PIDTYPE_PID = 0," in lines
    assert "    char comm[16];" in type_definitions("struct task_struct", machine)
    with pytest.raises(ListingError, match="the kernel's BTF has no struct nosuch"):
        type_definitions("struct nosuch", machine)
    switch = Path(__file__).parent / "fixtures" / "tracepoints" / "sched" / "sched_switch.format"
    machine = FixtureMachine({("sched", "sched_switch"): switch.read_text()},
                             kernel_types=machine.btf())
    assert list_probes("rawtracepoint:sched_switch", True, machine) == [
        "rawtracepoint:sched_switch", "    bool preempt", "    struct task_struct *prev",
        "    struct task_struct *next", "    unsigned int prev_state"]


@pytest.mark.skipif(not Path(VMLINUX).exists(), reason="no kernel BTF here")
def test_list_kernel_functions_from_btf() -> None:
    machine = FixtureMachine({}, kernel_types=Btf.load(VMLINUX))
    assert list_probes("fentry:vfs_read", False, machine) == ["fentry:vfs_read"]
    assert list_probes("kfunc:vfs_read", True, machine) == [
        "fentry:vfs_read", "    struct file * file", "    char * buf", "    size_t count",
        "    loff_t * pos"]
    assert list_probes("fexit:vfs_read", True, machine)[-1] == "    retval"
    assert list_probes("*vfs_read", False, machine) == ["fentry:vfs_read"]  # fexit: the same


def test_list_kprobes_from_available_filter_functions() -> None:
    machine = FixtureMachine({}, traceable=[("", "vfs_read"), ("", "vfs_write"),
                                            ("ext4", "ext4_file_read_iter")])
    assert list_probes("kprobe:vfs_*", False, machine) == ["kprobe:vfs_read", "kprobe:vfs_write"]
    assert list_probes("kr:*read*", False, machine) == ["kretprobe:ext4:ext4_file_read_iter",
                                                         "kretprobe:vfs_read"]
    assert "kprobe:vfs_write" in list_probes(None, False, machine)


@pytest.mark.skipif(not Path(VMLINUX).exists(), reason="no kernel BTF here")
def test_list_kprobes_from_btf_where_tracefs_refuses(capsys: pytest.CaptureFixture[str]) -> None:
    machine = FixtureMachine({}, kernel_types=Btf.load(VMLINUX))
    assert list_probes("kprobe:vfs_readv", False, machine) == ["kprobe:vfs_readv"]
    assert "listing the kernel functions BTF describes" in capsys.readouterr().err
    assert not any(p.startswith("kprobe:") for p in list_probes(None, False, machine))


@pytest.mark.parametrize(("pattern", "message"), [
    ("syscalls:sys_enter_read", "tracepoints are written tracepoint:syscalls:EVENT"),
    ("kprob:vfs_read", "did you mean 'kprobe'?"),
    ("nosuch:x", "probe types: "),
    ("uprobe", "listed per binary"),
    ("uprobe:/no/such/binary:*", "no program or library named /no/such/binary"),
    ("usdt", "usdt probes are listed per binary"),
    ("usdt:/no/such/binary:*", "no program or library named /no/such/binary"),
    ("usdt:/etc/hostname:*", "cannot read the USDT probes of /etc/hostname"),
    # without -p, a wildcard is no library name (`lib*` once named any library)
    ("uprobe:*:main", "a wildcard binary ('*') matches files by a path"),
    ("usdt:lib*:*", "a wildcard binary ('lib*') matches files by a path"),
    ("kprobe:vfs_*", "cannot read available_filter_functions"),  # and no BTF either
    ("fentry:vfs_*", "this kernel has no BTF"),  # the fixture machine has none
])
def test_list_errors(pattern: str, message: str) -> None:
    with pytest.raises(ListingError) as error:
        list_probes(pattern, False, fixture_machine())
    assert message in str(error.value)


def test_l_through_main(capsys: pytest.CaptureFixture[str], fixture_live_machine: None) -> None:
    code, out, err = run(capsys, "-lv", "tracepoint:syscalls:sys_enter_read")
    assert (code, err) == (0, "")
    assert out.splitlines()[0] == "tracepoint:syscalls:sys_enter_read"
    assert "    size_t count" in out.splitlines()
    code, out, err = run(capsys, "-l", "nosuch:x")
    assert (code, out) == (1, "")
    assert err.startswith("ptrace: error: unknown probe type 'nosuch'") and err.count("\n") == 1


def test_l_without_tracefs_says_why(capsys: pytest.CaptureFixture[str],
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("ptrace.machine.LiveMachine", lambda: FixtureMachine({}))
    monkeypatch.setattr(features, "tracefs_problem", lambda: "tracefs is not mounted")
    code, out, err = run(capsys, "-l", "tracepoint:sched:*")
    assert (code, out) == (1, "")
    assert err == "ptrace: error: cannot list tracepoints: tracefs is not mounted\n"


# ---- -t ------------------------------------------------------------------------------------

@pytest.fixture
def tool_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package = tmp_path / "fake_ptrace_tools"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "hello.bt").write_text(
        "#!/usr/bin/env ptrace\n/*\n * hello.bt   Say hello.\n */\n"
        'BEGIN { printf("hello %s\\n", str($1)); exit(); }\n')
    (package / "bare.bt").write_text("BEGIN { exit(); }\n")
    (package / "notes.txt").write_text("not a tool")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(cli, "TOOLS_PACKAGE", "fake_ptrace_tools")


def test_t_alone_lists_the_tools(capsys: pytest.CaptureFixture[str], tool_package: None) -> None:
    assert run(capsys, "-t") == (0, "bare\nhello  Say hello.\n", "")


def test_t_runs_a_tool_with_its_arguments(capsys: pytest.CaptureFixture[str],
                                          tool_package: None, as_user: None) -> None:
    code, out, err = run(capsys, "-d", "ast", "-t", "hello", "world")
    assert (code, err) == (0, "")
    assert "hello" in out
    code, out, err = run(capsys, "-t", "nosuch")
    assert (code, out) == (1, "")
    assert err == "ptrace: error: no tool named nosuch (ptrace -t lists them)\n"


def test_t_without_a_tools_package(capsys: pytest.CaptureFixture[str],
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli, "TOOLS_PACKAGE", "no_such_package_for_ptrace_tools")
    assert run(capsys, "-t") == (0, "", "")
    assert run(capsys, "-t", "x")[0] == 1


@pytest.mark.parametrize(("text", "description"), [
    ("#!/usr/bin/env bpftrace\n/*\n * opensnoop.bt\tTrace open() syscalls.\n */\n",
     "Trace open() syscalls."),
    ("// opensnoop: files opened, by process\nBEGIN {}\n", "files opened, by process"),
    ("/* Count system calls. */\n", "Count system calls."),
    ("/*\n * opensnoop - files opened: who, and\n * with which flags.\n *\n * Usage: x\n */\n",
     "files opened: who, and with which flags."),
    ("// opensnoop: files opened,\n// by process\nBEGIN {}\n", "files opened, by process"),
    ("BEGIN { exit(); }\n// late comment\n", ""),
    ("", ""),
])
def test_tool_description_is_the_first_comment(text: str, description: str) -> None:
    assert tool_description("opensnoop", text) == description


# ---- the interactive prompt ----------------------------------------------------------------

@pytest.mark.parametrize("flag", [["-o", "out.txt"], ["-B", "line"], ["-p", "1"], ["-c", "ls"],
                                  ["-d", "ast"]])
def test_prompt_refuses_options_it_cannot_honour(capsys: pytest.CaptureFixture[str],
                                                 flag: list[str]) -> None:
    code, out, err = run(capsys, "-i", *flag)
    assert (code, out) == (1, "")
    assert err == f"ptrace: error: {flag[0]} does not apply to the interactive prompt\n"


def test_include_needs_a_header_that_exists(capsys: pytest.CaptureFixture[str],
                                            tmp_path: Path, as_user: None) -> None:
    header = tmp_path / "mine.h"
    header.write_text("#define MINE 1\n")
    assert run(capsys, "--include", str(header), "--include", "stdio.h",
               "-d", "ast", "-e", BEGIN)[0] == 0
    code, out, err = run(capsys, "--include", "lol/no.h", "-e", BEGIN)
    assert (code, out) == (1, "")
    assert err == ("ptrace: error: --include: no header lol/no.h in /usr/local/include, "
                   "/usr/include (nor as a path) (ptrace -h lists the options)\n")


def test_include_directory_is_searched_first(capsys: pytest.CaptureFixture[str],
                                             tmp_path: Path, as_user: None) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "mine.h").write_text("#define MINE 7\n")
    source = "#include <sub/mine.h>\nBEGIN { @ = MINE; }"
    code, out, err = run(capsys, "-I", str(tmp_path), "-d", "types", "-e", source)
    assert (code, err) == (0, "")
    assert "Integer value=7" in out
    assert run(capsys, "-I", str(tmp_path), "--include", "sub/mine.h", "-d", "ast", "-e",
               "BEGIN { @ = MINE; }")[0] == 0
    code, out, err = run(capsys, "-d", "types", "-e", source)
    assert code == 1
    assert "'sub/mine.h' file not found" in err


def test_probe_filter_must_be_a_regex(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "--probe-filter", "[x", "-e", BEGIN)
    assert code == 1
    assert err.startswith("ptrace: error: --probe-filter: invalid regex '[x': ")


def test_fmt_prints_the_program_formatted(capsys: pytest.CaptureFixture[str],
                                          tmp_path: Path) -> None:
    script = tmp_path / "x.bt"
    script.write_text("// count\nBEGIN{@n[comm]=count();exit()}\n")
    assert run(capsys, "--fmt", str(script)) == (
        0, "// count\nBEGIN\n{\n\t@n[comm] = count();\n\texit()\n}\n", "")
    assert run(capsys, "--fmt", "-e", "BEGIN { if (1) { exit(); } }") == (
        0, "BEGIN\n{\n\tif (1) {\n\t\texit();\n\t}\n}\n", "")
    code, out, err = run(capsys, "--fmt", "-e", "BEGIN { $x = ; }")
    assert (code, out) == (1, "")
    assert err.startswith("-e:1:14: error: unexpected ';'")
