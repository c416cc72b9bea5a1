"""Completion: what Tab offers at the end of the text typed so far.

The machine is the fixture one (tests/unit/fixtures): its tracepoints are
known, so the candidates are exact.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from prompt_toolkit.completion import CompleteEvent
from prompt_toolkit.document import Document
from prompt_toolkit.history import InMemoryHistory
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput

from ptrace import repl
from ptrace.machine import FixtureMachine
from ptrace.options import Options
from ptrace.types.btf import VMLINUX, Btf
from tests.unit.fixtures import fixture_machine

NAMES = {"@opens", "@bytes", "$fd"}


def complete(before: str) -> tuple[str, list[str]]:
    return repl.complete(before, fixture_machine(), NAMES)


def test_providers_at_the_start_of_a_probe() -> None:
    word, candidates = complete("BEGIN { exit(); }\nt")
    assert (word, candidates) == ("t", ["tracepoint:", "test:"])  # (test: since --test came)
    assert set(repl.PROVIDERS) >= {"BEGIN", "END", "tracepoint:", "interval:", "profile:"}


def test_a_cells_first_word_may_be_a_provider_or_a_statement() -> None:
    assert complete("pr") == ("pr", ["profile:", "print", "printf", "probe", "probetype"])


def test_tracepoint_categories_then_events() -> None:
    word, categories = complete("tracepoint:")
    assert word == "" and {"syscalls:", "sched:", "raw_syscalls:"} <= set(categories)
    assert complete("t:sys") == ("sys", ["syscalls:"])
    assert complete("tracepoint:syscalls:sys_enter_op") == ("sys_enter_op", ["sys_enter_openat"])


def test_the_next_attach_point_of_a_list() -> None:
    assert complete("t:syscalls:sys_enter_read,\nt:syscalls:sys_exit_o") == (
        "sys_exit_o", ["sys_exit_openat"])


def test_timer_units() -> None:
    assert complete("interval:") == ("", ["hz:", "s:", "ms:", "us:"])


@pytest.mark.parametrize("before", ["tracepoint:syscalls:sys_enter_openat { args.",
                                    "tracepoint:syscalls:sys_enter_openat { args->",
                                    "t:syscalls:sys_enter_openat /args.flags == 0 && args.",
                                    "t:syscalls:sys_enter_openat {\n  if (1) { print(args."])
def test_args_fields_of_the_tracepoint_being_written(before: str) -> None:
    assert complete(before) == ("", ["__syscall_nr", "dfd", "filename", "flags", "mode"])


def test_args_fields_of_a_wildcard_are_those_of_every_match() -> None:
    _, fields = complete("t:syscalls:sys_enter_* { args.")
    assert {"filename", "fd", "buf", "count", "argv"} <= set(fields)


def test_args_fields_of_the_last_probe() -> None:
    before = "t:syscalls:sys_enter_read { }\nt:syscalls:sys_enter_openat { args.fi"
    assert complete(before) == ("fi", ["filename"])


def test_struct_members_need_the_kernel_types() -> None:
    assert complete("BEGIN { curtask->") == ("", [])  # the fixture machine has no BTF


@pytest.mark.skipif(not Path(VMLINUX).exists(), reason="no kernel BTF here")
@pytest.mark.parametrize("before, expected", [
    ("BEGIN { curtask->tg", ("tg", ["tgid"])),
    ("BEGIN { @[curtask->real_parent->tg", ("tg", ["tgid"])),  # through a pointer member
    ("BEGIN { curtask->mm->map_c", ("map_c", ["map_count"])),
    ("BEGIN { curtask->se.vrunt", ("vrunt", ["vruntime"])),  # an embedded struct
    ("BEGIN { curtask->pid->", ("", [])),  # an integer has no members
    ("BEGIN { curtask->nosuchfield->", ("", [])),
    ("BEGIN { $t->", ("", [])),  # a variable with no cast in the cell: not known
    # a variable set to a cast pointer in the cell
    ("BEGIN { $f = (struct file *)0; $f->f_po", ("f_po", ["f_pos", "f_pos_lock"])),
    ("BEGIN { $f = (struct file *)0; $f->f_path.de", ("de", ["dentry"])),
    ("BEGIN { $g = (struct file *)0; $f->f_po", ("f_po", [])),
    ("BEGIN { $t = curtask; $t->tg", ("tg", ["tgid"])),
])
def test_struct_members_from_btf(before: str, expected: tuple[str, list[str]]) -> None:
    machine = FixtureMachine({}, kernel_types=Btf.load(VMLINUX))
    assert repl.complete(before, machine, NAMES) == expected


def test_uprobe_paths_then_the_functions_of_the_binary(tmp_path: Path) -> None:
    (tmp_path / "bin").mkdir()
    (tmp_path / "binary").write_bytes(b"")
    (tmp_path / "other").write_bytes(b"")
    assert complete(f"uprobe:{tmp_path}/bi") == (f"{tmp_path}/bi", [f"{tmp_path}/bin/",
                                                                   f"{tmp_path}/binary:"])
    assert complete(f"ur:{tmp_path}/nothing/") == (f"{tmp_path}/nothing/", [])
    word, functions = complete("uprobe:libc:mallo")  # a library by name, as attach accepts
    assert word == "mallo" and {"malloc", "malloc_usable_size"} <= set(functions)
    assert complete("uprobe:libc:mallocz_no_such") == ("mallocz_no_such", [])
    assert complete(f"uprobe:{tmp_path}/other:") == ("", [])  # not ELF: nothing to offer


def test_builtins_and_functions_in_a_block() -> None:
    assert complete("BEGIN { co") == ("co", ["comm", "config", "container_of", "count"])
    assert complete("BEGIN { printf(\"%s\", str") == (
        "str", ["strcap", "strcontains", "strerror", "strftime", "strlen", "strncmp", "strstr"])


def test_names_of_maps_and_variables() -> None:
    assert complete("BEGIN { @") == ("@", ["@bytes", "@opens"])
    assert complete("@o") == ("@o", ["@opens"])
    assert complete("BEGIN { $") == ("$", ["$fd"])


def test_commands() -> None:
    assert complete(":l") == (":l", [":list", ":load"])
    assert complete(":ir") == (":ir", [":ir", ":ir-opt"])


def test_nothing_inside_strings_and_comments() -> None:
    assert complete('BEGIN { printf("co') == ("", [])
    assert complete("BEGIN { // co") == ("", [])


def test_the_completer_adds_the_names_of_the_session_and_of_the_cell() -> None:
    shell = repl.Repl(Options(), machine=fixture_machine())
    shell.names = {"@earlier"}
    with create_pipe_input() as pipe:
        completer = repl.prompt_session(shell, InMemoryHistory(), pipe, DummyOutput()).completer
    assert completer is not None
    text = "@here = 1; @"
    found = completer.get_completions(Document(text), CompleteEvent(completion_requested=True))
    assert [(c.text, c.start_position) for c in found] == [("@earlier", -1), ("@here", -1)]
