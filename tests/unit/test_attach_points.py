"""Attach points of uprobes and raw tracepoints as bpftrace 0.26 writes them:
quoted names, addresses, symbols of size 0, flat binaries, libraries by
soname, raw tracepoint wildcards and modules.

The binaries are tests/progs' as the `triggers` fixture builds them (no root).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from ptrace.compile import compile
from ptrace.diagnostics import CompileError, Source
from ptrace.machine import FixtureMachine, find_binary, read_function_symbols
from ptrace.options import Options
from ptrace.program import Attach
from tests.unit.fixtures import fixture_machine


def _attaches(text: str, options: Options | None = None,
              machine: FixtureMachine | None = None) -> list[Attach]:
    program = compile(Source("-e", text + " { }"), options, machine or FixtureMachine({}))
    return [p.attach for p in program.programs]


def _errors(text: str, options: Options | None = None,
            machine: FixtureMachine | None = None) -> list[str]:
    with pytest.raises(CompileError) as error:
        _attaches(text, options, machine)
    return [d.message for d in error.value.diagnostics]


@pytest.fixture
def in_triggers(triggers: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(triggers)
    return triggers


def test_quoted_function_names(in_triggers: Path) -> None:
    (attach,) = _attaches('uprobe:./ptt_uprobe:"ptt_add"+0')
    assert (attach.symbol, attach.offset) == ("ptt_add", 0)
    (attach,) = _attaches('uprobe:"./ptt_uprobe":"ptt_greet"')
    assert (attach.binary, attach.symbol) == ("./ptt_uprobe", "ptt_greet")


def test_an_address_as_the_function(in_triggers: Path) -> None:
    """A number (decimal or 0x) is an address in the binary's code."""
    add = next(s for s in read_function_symbols("./ptt_uprobe") or [] if s.name == "ptt_add")
    (attach,) = _attaches(f"uprobe:./ptt_uprobe:{add.address}")
    assert (attach.address, attach.symbol) == (add.address, "")
    (attach,) = _attaches(f"uprobe:./ptt_uprobe:{add.address + 1:#x}")
    assert attach.address == add.address + 1
    assert _errors("uprobe:./ptt_uprobe:10") == [
        "the address 0xa is not in the code of ./ptt_uprobe"]


def test_a_flat_binary_takes_a_file_offset_with_unsafe(tmp_path: Path) -> None:
    flat = tmp_path / "code.bin"
    flat.write_bytes(b"\x31\xc0\xc3")  # xor %eax,%eax; ret
    assert _errors(f"uprobe:{flat}:0x0") == [
        f"{flat} is not an ELF binary: ptrace cannot check that 0x0 is the start of an "
        "instruction"]
    (attach,) = _attaches(f"uprobe:{flat}:0x1", Options(unsafe=True))
    assert (attach.flat, attach.offset, attach.address) == (True, 1, 0)


def test_a_symbol_of_size_0_needs_unsafe(in_triggers: Path) -> None:
    assert _errors("uprobe:./ptt_nosize:ptt_nosize") == [
        "cannot tell where ptt_nosize ends: its symbol has size 0"]
    (attach,) = _attaches("uprobe:./ptt_nosize:ptt_nosize", Options(unsafe=True))
    assert attach.symbol == "ptt_nosize"


def test_a_library_by_its_soname() -> None:
    (attach,) = _attaches("uprobe:libc.so.6:fread")
    assert attach.binary == find_binary("libc")


def test_raw_tracepoint_wildcards_and_modules() -> None:
    """Raw tracepoints are the kernel's tracepoints (not the syscall tracer's
    syscalls:* events); MODULE is vmlinux or a loaded module, wildcards allowed."""
    machine = dataclasses.replace(fixture_machine(), modules=["ext4", "vmlinux"])
    assert [a.probe for a in _attaches("rawtracepoint:sched_process_*", machine=machine)] == [
        f"rawtracepoint:sched_process_{e}" for e in ("exec", "exit", "fork", "free")]
    assert [a.event for a in _attaches("rawtracepoint:vmlinu*:sys_enter", machine=machine)] \
        == ["sys_enter"]
    assert [a.event for a in _attaches("rt:ext4:sched_switch", machine=machine)] == [
        "sched_switch"]
    assert _errors("rawtracepoint:nonsense:sys_enter", machine=machine) == [
        "the kernel has no module 'nonsense' (vmlinux is the kernel itself)"]
    assert _errors("rawtracepoint:sys_enter_*", machine=machine) == [
        "no raw tracepoint matches 'sys_enter_*'"]
    warned = compile(Source("-e", 'config = { missing_probes = "warn" } '
                                  "rawtracepoint:nonsense:sys_enter, rawtracepoint:sys_enter { }"),
                     machine=machine)
    assert [p.attach.probe for p in warned.programs] == ["rawtracepoint:sys_enter"]
