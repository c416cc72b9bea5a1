"""Tests for what the compiler reads about the machine (ptrace.machine).

Formats are real tracefs format files stored under fixtures/tracepoints.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ptrace.machine import (
    FixtureMachine,
    TracepointField,
    find_binary,
    match_tracepoints,
    parse_format,
    parse_unistd,
    process_binaries,
)
from tests.unit.fixtures import fixture_machine, format_text


def fields(category: str, event: str) -> list[TracepointField]:
    return list(parse_format(category, event, format_text(category, event)).fields)


def test_syscall_format_without_the_common_header() -> None:
    fmt = parse_format("syscalls", "sys_enter_openat",
                       format_text("syscalls", "sys_enter_openat"))
    assert (fmt.category, fmt.name) == ("syscalls", "sys_enter_openat")
    assert fmt.fields == (
        TracepointField("__syscall_nr", "int", 8, 4, True),
        TracepointField("dfd", "int", 16, 8, False),
        TracepointField("filename", "const char *", 24, 8, False),
        TracepointField("flags", "int", 32, 8, False),
        TracepointField("mode", "umode_t", 40, 8, False),
    )
    assert all(not f.name.startswith("common_") for f in fmt.fields)


def test_pointer_fields() -> None:
    by_name = {f.name: f for f in fields("syscalls", "sys_enter_execve")}
    assert by_name["filename"].ctype == "const char *"
    assert by_name["argv"].ctype == "const char *const *"
    assert by_name["envp"] == TracepointField("envp", "const char *const *", 32, 8, False)
    assert {f.name: f.ctype for f in fields("alarmtimer", "alarmtimer_start")}["alarm"] \
        == "void *"


def test_array_fields_keep_their_size_in_the_type() -> None:
    switch = {f.name: f for f in fields("sched", "sched_switch")}
    assert switch["prev_comm"] == TracepointField("prev_comm", "char[16]", 8, 16, False)
    assert switch["next_comm"] == TracepointField("next_comm", "char[16]", 40, 16, False)
    raw = {f.name: f for f in fields("raw_syscalls", "sys_enter")}
    assert raw["args"] == TracepointField("args", "unsigned long[6]", 16, 48, False)
    assert {f.name: f.ctype for f in fields("bridge", "br_fdb_add")}["addr"] \
        == "unsigned char[6]"
    assert not switch["prev_comm"].is_data_loc


def test_data_loc_fields() -> None:
    exec_fields = fields("sched", "sched_process_exec")
    assert exec_fields[0] == TracepointField("filename", "__data_loc char[]", 8, 4, False)
    assert exec_fields[0].is_data_loc
    assert [f.name for f in exec_fields if f.is_data_loc] == ["filename"]
    fork = [f.name for f in fields("sched", "sched_process_fork") if f.is_data_loc]
    assert fork == ["parent_comm", "child_comm"]


def test_signedness_comes_from_the_format_file() -> None:
    switch = {f.name: f.signed for f in fields("sched", "sched_switch")}
    assert switch == {"prev_comm": False, "prev_pid": True, "prev_prio": True,
                      "prev_state": True, "next_comm": False, "next_pid": True,
                      "next_prio": True}
    assert {f.name: f.signed for f in fields("syscalls", "sys_exit_openat")}["ret"] is True
    perf = {f.name: (f.ctype, f.size, f.signed) for f in fields("amd_cpu", "amd_pstate_perf")}
    assert perf["min_perf"] == ("u8", 1, False)
    assert perf["freq"] == ("unsigned long long", 8, False)
    assert perf["cpu_id"] == ("unsigned int", 4, False)
    assert perf["fast_switch"] == ("bool", 1, False)
    timer = {f.name: (f.ctype, f.signed) for f in fields("alarmtimer", "alarmtimer_start")}
    assert timer["expires"] == ("s64", True)


def test_offsets_and_sizes() -> None:
    wakeup = [(f.name, f.offset, f.size) for f in fields("sched", "sched_wakeup")]
    assert wakeup == [("comm", 8, 16), ("pid", 24, 4), ("prio", 28, 4), ("target_cpu", 32, 4)]


def test_field_lookup() -> None:
    fmt = parse_format("syscalls", "sys_exit_openat", format_text("syscalls", "sys_exit_openat"))
    ret = fmt.field("ret")
    assert ret == TracepointField("ret", "long", 16, 8, True)
    assert fmt.field("nothing") is None
    assert fmt.field("common_pid") is None


def test_lines_that_are_not_fields_are_skipped() -> None:
    text = ("name: x\nID: 1\nformat:\n"
            "\tfield:int a;\toffset:8;\tsize:4;\tsigned:1;\n"
            "\n"
            'print fmt: "a=%d", REC->a\n')
    assert parse_format("c", "x", text).fields == (TracepointField("a", "int", 8, 4, True),)
    assert parse_format("c", "x", "").fields == ()


def test_fixture_machine() -> None:
    machine = fixture_machine()
    assert ("sched", "sched_switch") in machine.tracepoints()
    fmt = machine.tracepoint_format("sched", "sched_switch")
    assert fmt is not None and fmt.field("next_pid") is not None
    assert machine.tracepoint_format("sched", "no_such_event") is None
    assert machine.tracepoint_format("no_such_category", "sched_switch") is None


# ---- globs ---------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("category", "event", "expected"),
    [
        ("syscalls", "sys_enter_openat", [("syscalls", "sys_enter_openat")]),
        ("syscalls", "sys_enter_open", []),
        ("syscalls", "sys_exit_*", [("syscalls", "sys_exit_openat"),
                                    ("syscalls", "sys_exit_read")]),
        ("syscalls", "sys_*_read", [("syscalls", "sys_enter_read"),
                                    ("syscalls", "sys_exit_read")]),
        ("sched", "sched_process_*", [("sched", "sched_process_exec"),
                                      ("sched", "sched_process_exit"),
                                      ("sched", "sched_process_fork"),
                                      ("sched", "sched_process_free")]),
        ("sched", "sched_process_e?e?", [("sched", "sched_process_exec")]),
        ("sched", "sched_process_[!e]*", [("sched", "sched_process_fork"),
                                          ("sched", "sched_process_free")]),
        ("sched", "sched_process_*[et]", [("sched", "sched_process_exit"),
                                          ("sched", "sched_process_free")]),
        ("*", "sys_enter", [("raw_syscalls", "sys_enter")]),
        ("*sys*", "sys_e*r", [("raw_syscalls", "sys_enter")]),
        ("sch?d", "sched_w*", [("sched", "sched_wakeup")]),
        # globs are case-sensitive
        ("SCHED", "*", []),
        ("sched", "SCHED_SWITCH", []),
    ],
)
def test_match_tracepoints(category: str, event: str, expected: list[tuple[str, str]]) -> None:
    assert match_tracepoints(fixture_machine(), category, event) == expected


def test_match_everything_is_sorted() -> None:
    matches = match_tracepoints(fixture_machine(), "*", "*")
    assert matches == sorted(matches)
    assert len(matches) == len(fixture_machine().tracepoints())


def test_match_sorts_regardless_of_machine_order() -> None:
    machine = FixtureMachine({("b", "y"): "", ("a", "z"): "", ("b", "x"): "", ("a", "a"): ""})
    assert match_tracepoints(machine, "*", "*") == [("a", "a"), ("a", "z"), ("b", "x"),
                                                    ("b", "y")]


def test_a_name_without_a_pattern_is_looked_up_alone() -> None:
    """An exact tracepoint is found by its format, without listing every tracepoint."""
    class Unlisted(FixtureMachine):
        def tracepoints(self) -> list[tuple[str, str]]:
            raise AssertionError("listed every tracepoint")

    machine = Unlisted({("sched", "sched_switch"): format_text("sched", "sched_switch"),
                        ("ftrace", "print"): format_text("sched", "sched_switch")})
    assert match_tracepoints(machine, "sched", "sched_switch") == [("sched", "sched_switch")]
    assert match_tracepoints(machine, "sched", "sched_nothing") == []
    assert match_tracepoints(machine, "ftrace", "print") == []  # cannot be attached


def test_parse_unistd() -> None:
    text = ("#ifndef _ASM_UNISTD_64_H\n"
            "#define __NR_read 0\n"
            "#define __NR_stat 4\n"
            "#define __NR_openat 257\n"
            "#define __NR_syscalls 462 /* not a plain number line */\n"
            "#define __NR_bogus foo\n")
    assert parse_unistd(text) == {"read": 0, "stat": 4, "openat": 257, "newstat": 4}


def test_process_binaries_are_its_executable_then_its_executable_mappings(
        tmp_path: Path) -> None:
    process = tmp_path / "42"
    process.mkdir()
    (process / "exe").symlink_to("/usr/bin/app")
    (process / "maps").write_text("""\
55d0c0000000-55d0c0001000 r--p 00000000 fe:01 1 /usr/bin/app
55d0c0001000-55d0c0002000 r-xp 00001000 fe:01 1 /usr/bin/app
7f0000000000-7f0000100000 r--p 00000000 fe:01 2 /usr/lib/libc.so.6
7f0000100000-7f0000200000 r-xp 00100000 fe:01 2 /usr/lib/libc.so.6
7f0000300000-7f0000301000 r-xp 00000000 fe:01 3 /tmp/plugin.so (deleted)
7f0000400000-7f0000401000 rw-p 00000000 00:00 0
7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0                          [stack]
7ffd00100000-7ffd00102000 r-xp 00000000 00:00 0                          [vdso]
""")
    assert process_binaries(42, str(tmp_path)) == ["/usr/bin/app", "/usr/lib/libc.so.6"]
    assert process_binaries(43, str(tmp_path)) is None


def test_a_syscall_wildcard_is_one_program_where_every_syscall_has_a_number() -> None:
    """Syscalls newer than the UAPI header (cachestat, 451) have their number
    too, so none is attached as a tracepoint of its own (each costs tens of
    milliseconds to detach)."""
    from ptrace.compile import compile
    from ptrace.diagnostics import Source
    from ptrace.machine import UNISTD_X86_64, LiveMachine

    machine = LiveMachine()
    if not any(path.exists() for path in UNISTD_X86_64) or not machine.tracepoints():
        pytest.skip("needs the x86_64 UAPI header and tracefs")
    assert machine.syscall_numbers()["cachestat"] == 451
    assert machine.syscall_numbers()["getppid"] == 110  # the header's
    program = compile(Source("-e", "tracepoint:syscalls:sys_enter_* { @[probe] = count(); }"),
                      machine=machine)
    assert [p.attach.event for p in program.programs] == ["sys_enter"]


def test_a_process_in_another_mount_namespace_is_seen_through_its_root(tmp_path: Path) -> None:
    """A mapped file that is not the same file here (another mount namespace) is
    named through /proc/PID/root; one that is (the same inode) keeps its path."""
    process = tmp_path / "42"
    (process / "root" / "opt" / "ptt").mkdir(parents=True)
    (process / "root" / "opt" / "ptt" / "app").write_text("")
    (process / "root" / "bin").symlink_to("/bin")  # the same files as here
    (process / "exe").symlink_to("/opt/ptt/app")
    (process / "maps").write_text(
        "55d0c0001000-55d0c0002000 r-xp 00001000 fe:01 1 /opt/ptt/app\n"
        "7f0000100000-7f0000200000 r-xp 00100000 fe:01 2 /bin/sh\n")
    assert process_binaries(42, str(tmp_path)) == [f"{process}/root/opt/ptt/app", "/bin/sh"]


def test_a_library_by_its_soname_through_the_linker_cache(tmp_path: Path) -> None:
    """ld.so.cache's entries name a library (its soname) and give its path; the
    string offsets count from the new format's magic, after the old format's."""
    import struct

    from ptrace.machine import ld_cache_path

    library = tmp_path / "libdemo.so.3"
    library.write_bytes(b"\x7fELF" + bytes(60))
    table = 48 + 24  # the header, one entry
    strings = b"libdemo.so.3\0" + str(library).encode() + b"\0"
    header = b"glibc-ld.so.cache1.1" + struct.pack("<II", 1, len(strings)) + bytes(20)
    entry = struct.pack("<iIIIQ", 0x303, table, table + len(b"libdemo.so.3\0"), 0, 0)
    cache = tmp_path / "ld.so.cache"
    cache.write_bytes(b"ld.so-1.7.0" + bytes(5) + header + entry + strings)
    assert ld_cache_path("libdemo.so.3", str(cache)) == str(library)
    assert ld_cache_path("libother.so.1", str(cache)) is None
    assert ld_cache_path("libdemo.so.3", str(tmp_path / "none")) is None
    assert find_binary("libc.so.6") == find_binary("libc")
