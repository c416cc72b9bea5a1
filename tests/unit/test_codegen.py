"""Tests for code generation (ptrace.codegen, with allocate_resources' layouts).

Small programs are compiled with the real `compile()` against the fixture
machine; tests assert on the CompiledProgram (instructions, program types,
map specs, printf layouts) and on the IR, which is loaded into LLVM rather
than compared with a snapshot.
"""

from __future__ import annotations

import functools
import re
import struct

import pytest

import ptrace.codegen  # noqa: F401 - first: it makes llvmlite use opaque pointers

# isort: split

import llvmlite.binding as llvm
from llvmlite import ir
from ptrace.runtime.loader import function_btf

from ptrace.cli import main
from ptrace.codegen.bpf_builder import I64, PTR
from ptrace.codegen.emit import emit, new_module
from ptrace.elf import object_sections
from ptrace.options import Options
from ptrace.program import CompiledProgram, MapType, ProgType
from ptrace.types import types as t
from tests.unit.fixtures import SYSCALL_NUMBERS, compile_text, fixture_machine

LD_IMM64 = 0x18
BPF_PSEUDO_FUNC = 4
EXIT = 0x95
SHT_RELA = 4
SHT_REL = 9

PROGRAMS = {
    "count_by_comm": "tracepoint:syscalls:sys_enter_openat { @[comm] = count(); }",
    "printf": r'BEGIN { printf("%d %s %s\n", pid, comm, "abc"); }',
    "str": r'tracepoint:syscalls:sys_enter_openat { printf("%s\n", str(args.filename)); }',
    "data_loc": r'tracepoint:sched:sched_process_exec { printf("%s\n", args.filename); }',
    "predicate": "tracepoint:sched:sched_switch /args.prev_pid / 2 == 1/ "
                 "{ @[args.next_comm] = sum(args.next_prio); }",
    "aggregations": "tracepoint:sched:sched_wakeup { @c = count(); @s = sum(args.pid); "
                    "@mn = min(args.prio); @mx = max(args.prio); @a = avg(args.pid); "
                    "@st = stats(args.pid); @h = hist(args.pid); "
                    "@l = lhist(args.prio, 0, 140, 10); }",
    "control_flow": r'BEGIN { $i = 1; if ($i > 0) { @x = 1; } else if ($i < 0) { @x = 2; } '
                    r'else { @x = 3; } $j = $i ? 5 : 6; @y[$i, "k"] = $j; '
                    r'if (comm == "bash" || pid == 1) { exit(); } }',
    "maps": "BEGIN { @a = 1; @a += 2; @a++; @b[1] = comm; delete(@b[1]); } "
            "END { print(@a); print(@b); clear(@a); zero(@b); print(5); }",
    "timers": "interval:s:1 { @i = count(); } profile:hz:99 { @p[cpu] = count(); }",
    "wildcard": "tracepoint:sched:sched_process_* { @[probe] = count(); }",
}


@functools.cache
def compiled(script: str, dumps: tuple[str, ...] = ()) -> CompiledProgram:
    return compile_text(script, dumps=dumps)


def instructions(insns: bytes) -> list[tuple[int, int, int]]:
    """(opcode, src_reg, imm) of each instruction, an ld_imm64 counting as one."""
    out = []
    i = 0
    while i < len(insns):
        opcode, regs = insns[i], insns[i + 1]
        (imm,) = struct.unpack_from("<i", insns, i + 4)
        out.append((opcode, regs >> 4, imm))
        i += 16 if opcode == LD_IMM64 else 8
    return out


def section_headers(obj: bytes) -> list[tuple[str, int]]:
    """(name, sh_type) of every section of a little-endian ELF64 object."""
    (shoff,) = struct.unpack_from("<Q", obj, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", obj, 0x3A)
    headers = [struct.unpack_from("<IIQQQQIIQQ", obj, shoff + i * shentsize)
               for i in range(shnum)]
    strtab = headers[shstrndx][4]
    return [(obj[strtab + h[0]:obj.index(b"\0", strtab + h[0])].decode(), h[1])
            for h in headers]


# ---- instructions -----------------------------------------------------------------

@pytest.mark.parametrize("script", PROGRAMS.values(), ids=PROGRAMS.keys())
def test_instructions_are_whole_8_byte_units(script: str) -> None:
    program = compiled(script)
    assert program.programs
    for prog in program.programs:
        assert prog.insns and len(prog.insns) % 8 == 0
        assert EXIT in [op for op, _, _ in instructions(prog.insns)]


@pytest.mark.parametrize("script", PROGRAMS.values(), ids=PROGRAMS.keys())
def test_map_references_are_valid_indexes(script: str) -> None:
    program = compiled(script)
    for prog in program.programs:
        refs = [imm for op, src, imm in instructions(prog.insns) if op == LD_IMM64 and src == 1]
        assert refs, "every program uses at least one map"
        assert all(0 <= index < len(program.maps) for index in refs)


def test_count_by_comm_stays_small() -> None:
    (prog,) = compiled(PROGRAMS["count_by_comm"]).programs
    # An ld_imm64 is two 8-byte slots, so it counts as two.
    assert len(prog.insns) // 8 < 60


# ---- program types --------------------------------------------------------------------

def test_program_type_per_probe_kind() -> None:
    program = compile_text("BEGIN { @b = 1; } END { @e = 1; } interval:ms:100 { @i = 1; } "
                           "profile:hz:49 { @p = 1; } "
                           "tracepoint:sched:sched_switch { @t = 1; }")
    kinds = [(p.attach.kind, p.prog_type, p.ctx_size) for p in program.programs]
    assert kinds == [
        ("begin", ProgType.RAW_TRACEPOINT, 8),
        ("end", ProgType.RAW_TRACEPOINT, 8),
        ("interval", ProgType.PERF_EVENT, 0),
        ("profile", ProgType.PERF_EVENT, 0),
        ("tracepoint", ProgType.TRACEPOINT, 0),
    ]
    assert [p.name for p in program.attached_programs] == ["probe_2", "probe_3", "probe_4"]


def test_timer_attach_periods() -> None:
    program = compile_text("interval:ms:100 { } interval:hz:4 { } profile:hz:49 { } "
                           "profile:s:2 { }")
    assert [(p.attach.period_ns, p.attach.frequency) for p in program.programs] == [
        (100_000_000, 0), (250_000_000, 0), (0, 49), (2_000_000_000, 0)]


def test_wildcard_gives_one_program_per_tracepoint() -> None:
    program = compiled(PROGRAMS["wildcard"])
    assert [(p.prog_type, p.attach.event) for p in program.programs] == [
        (ProgType.TRACEPOINT, "sched_process_exec"), (ProgType.TRACEPOINT, "sched_process_exit"),
        (ProgType.TRACEPOINT, "sched_process_fork"), (ProgType.TRACEPOINT, "sched_process_free")]


def test_syscall_wildcard_dispatches_from_one_raw_tracepoint() -> None:
    program = compile_text("tracepoint:syscalls:sys_enter_* { @[probe] = count(); }",
                           machine=fixture_machine(SYSCALL_NUMBERS))
    (prog,) = program.programs
    assert (prog.prog_type, prog.attach.kind, prog.attach.event) == (
        ProgType.RAW_TRACEPOINT, "syscalls", "sys_enter")
    assert [nr for nr, _ in prog.attach.syscalls] == sorted(SYSCALL_NUMBERS.values())
    (table,) = [m for m in program.maps if m.initial]
    assert (table.map_type, table.key_size) == (MapType.ARRAY, 4)
    assert table.max_entries == max(SYSCALL_NUMBERS.values()) + 1
    names = {int.from_bytes(key, "little"): value.rstrip(b"\0").decode()
             for key, value in table.initial}
    assert names[257] == "tracepoint:syscalls:sys_enter_openat"
    assert all(len(value) == table.value_size for _, value in table.initial)


def test_syscall_wildcard_reading_args_keeps_one_program_per_tracepoint() -> None:
    program = compile_text("tracepoint:syscalls:sys_enter_* { @[args.__syscall_nr] = count(); }",
                           machine=fixture_machine(SYSCALL_NUMBERS))
    assert len(program.programs) == len(SYSCALL_NUMBERS)
    assert {p.prog_type for p in program.programs} == {ProgType.TRACEPOINT}


# ---- IR -------------------------------------------------------------------------------

@pytest.mark.parametrize("script", PROGRAMS.values(), ids=PROGRAMS.keys())
def test_ir_dump_parses_and_verifies(script: str) -> None:
    program = compiled(script, ("ir", "ir-opt"))
    for stage in ("ir", "ir-opt"):
        module = llvm.parse_assembly(program.dumps[stage])
        module.verify()
        functions = [f.name for f in module.functions if not f.is_declaration]
        assert functions == [p.name for p in program.programs]


def test_cli_dump_ir_parses(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-d", "ir", "-e", "BEGIN { @x[comm] = count(); exit(); }"]) == 0
    text = capsys.readouterr().out
    module = llvm.parse_assembly(text)
    module.verify()
    assert [f.name for f in module.functions if not f.is_declaration] == ["probe_0"]


def test_scratch_key_is_zeroed_before_the_lookup() -> None:
    """Regression: the scratch map's key was once zeroed after the lookup had used it."""
    program = compiled(PROGRAMS["str"], ("ir",))
    scratch = next(i for i, m in enumerate(program.maps) if m.name == ".scratch")
    assert program.maps[scratch].value_size >= 1024  # str() really uses scratch memory
    lines = program.dumps["ir"].splitlines()

    def find(pattern: str) -> tuple[int, re.Match[str]]:
        return next((i, m) for i, line in enumerate(lines) if (m := re.search(pattern, line)))

    _, fd = find(rf'(%\S+) = call i64 @"llvm\.bpf\.pseudo"\(i64 1, i64 {scratch}\)')
    _, map_ptr = find(rf"(%\S+) = inttoptr i64 {re.escape(fd[1])} to ptr")
    lookup_at, lookup = find(
        rf"= call ptr inttoptr \(i64 1 to ptr\)\(ptr {re.escape(map_ptr[1])}, ptr (%\S+)\)")
    key = re.escape(lookup[1])
    zeroing = [i for i, line in enumerate(lines)
               if re.search(rf"store i32 0, ptr {key}\s*$", line)
               or re.search(rf'call void @"llvm\.memset[^"]*"\(ptr align \d+ {key},', line)]
    assert zeroing, "the scratch key is never zeroed"
    assert max(zeroing) < lookup_at


def test_every_function_is_in_its_own_section() -> None:
    program = compiled(PROGRAMS["timers"], ("ir",))
    sections = re.findall(r'define i64 @"(\w+)"\(ptr %\S+\) nounwind section "([^"]+)"',
                          program.dumps["ir"])
    assert sections == [("probe_0", "ptrace/probe_0"), ("probe_1", "ptrace/probe_1")]


# ---- objects ----------------------------------------------------------------------------

@pytest.mark.parametrize("script", PROGRAMS.values(), ids=PROGRAMS.keys())
def test_object_has_no_relocations(script: str) -> None:
    program = compiled(script, ("ir-opt",))
    target = llvm.Target.from_triple("bpfel")
    machine = target.create_target_machine(cpu="v3", opt=2, reloc="static", codemodel="small")
    obj = machine.emit_object(llvm.parse_assembly(program.dumps["ir-opt"]))
    headers = section_headers(obj)
    assert [name for name, kind in headers if kind in (SHT_REL, SHT_RELA)] == []
    assert {f"ptrace/{p.name}" for p in program.programs} <= {name for name, _ in headers}
    sections = object_sections(obj)
    for prog in program.programs:
        assert sections[f"ptrace/{prog.name}"].insns == prog.insns
        assert sections[f"ptrace/{prog.name}"].functions == (0,)
        assert prog.callbacks == ()


def test_a_map_loop_body_is_a_callback_loaded_by_offset() -> None:
    """for ($kv : @m) puts a callback after the program in its section; its
    address becomes a BPF_PSEUDO_FUNC ld_imm64 relative to the next instruction."""
    program = compiled("BEGIN { @m[1] = 2; for ($kv : @m) { @n[$kv.0] = $kv.1; } }")
    (prog,) = program.programs
    (callback,) = prog.callbacks
    assert 0 < callback < len(prog.insns) // 8
    insns = prog.insns
    loads = [i for i in range(0, len(insns), 8) if insns[i] == LD_IMM64
             and insns[i + 1] >> 4 == BPF_PSEUDO_FUNC]
    assert len(loads) == 1
    (relative,) = struct.unpack_from("<i", insns, loads[0] + 4)
    assert loads[0] // 8 + 1 + relative == callback


def test_function_btf_describes_a_program_and_a_callback() -> None:
    data = function_btf()
    magic, version, _flags, hdr_len, type_off, type_len, str_off, str_len = \
        struct.unpack_from("<HBBIIIII", data)
    assert (magic, version, hdr_len, type_off) == (0xEB9F, 1, 24, 0)
    assert str_off == type_len and len(data) == hdr_len + type_len + str_len
    strings = data[hdr_len + str_off:]
    kinds = []
    offset = hdr_len
    while offset < hdr_len + type_len:
        name_off, info, _ = struct.unpack_from("<III", data, offset)
        kind, vlen = info >> 24, info & 0xFFFF
        name = strings[name_off:strings.index(b"\0", name_off)].decode()
        kinds.append((kind, name, vlen))
        offset += 12 + (4 if kind == 1 else 8 * vlen if kind == 13 else 0)
    # int, proto(ctx), FUNC prog (global), proto(map, key, value, ctx), FUNC callback (static)
    assert kinds == [(1, "long", 0), (13, "", 1), (12, "prog", 1), (13, "", 4),
                     (12, "callback", 0)]


def test_emit_refuses_an_object_with_relocations() -> None:
    module = new_module("relocated")
    counter = ir.GlobalVariable(module, I64, "counter")
    counter.initializer = ir.Constant(I64, 0)
    function = ir.Function(module, ir.FunctionType(I64, [PTR]), "probe_0")
    function.section = "ptrace/probe_0"
    builder = ir.IRBuilder(function.append_basic_block("entry"))
    builder.ret(builder.load(counter, typ=I64))
    with pytest.raises(RuntimeError, match="relocations"):
        emit(module)


# ---- maps ---------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("value", "map_type", "value_size", "value_type"),
    [
        ("count()", MapType.PERCPU_HASH, 8, t.Count()),
        ("sum(pid)", MapType.PERCPU_HASH, 8, t.Sum(True)),
        ("min(pid)", MapType.PERCPU_HASH, 16, t.Min(True)),
        ("max(nsecs)", MapType.PERCPU_HASH, 16, t.Max(False)),
        ("avg(pid)", MapType.PERCPU_HASH, 16, t.Avg(True)),
        ("stats(pid)", MapType.PERCPU_HASH, 16, t.Stats(True)),
        ("1", MapType.HASH, 8, t.Int(8, False)),
        ("comm", MapType.HASH, 16, t.Str(16)),
        ('"abcdefghij"', MapType.HASH, 16, t.Str(11)),
        ("(1, comm)", MapType.HASH, 24, t.Tuple((t.Int(8, False), t.Str(16)))),  # 17 bytes
    ],
)
def test_map_spec_per_value_kind(value: str, map_type: MapType, value_size: int,
                                 value_type: t.Type) -> None:
    (spec, *_) = compile_text(f"BEGIN {{ @m[comm] = {value}; }}").maps
    assert (spec.name, spec.map_type, spec.key_size, spec.value_size) == (
        "@m", map_type, 16, value_size)
    assert (spec.key_type, spec.value_type) == (t.Str(16), value_type)
    assert spec.max_entries == Options().max_map_keys


@pytest.mark.parametrize("call", ["hist(pid)", "lhist(pid, 0, 100, 10)"])
def test_histogram_maps_add_the_bucket_to_the_key(call: str) -> None:
    keyed, scalar, *_ = compile_text(f"BEGIN {{ @h[comm] = {call}; @s = {call}; }}").maps
    assert (keyed.name, keyed.map_type, keyed.key_size, keyed.value_size) == (
        "@h", MapType.PERCPU_HASH, 16 + 8, 8)
    assert (scalar.name, scalar.key_size, scalar.value_size) == ("@s", 8 + 8, 8)


def test_key_sizes() -> None:
    specs = {m.name: m for m in compile_text(
        'BEGIN { @scalar = 1; @int[1] = 1; @str["abc"] = 1; @tuple[pid, comm, "x"] = 1; }').maps}
    assert {name: specs[name].key_size for name in ("@scalar", "@int", "@str", "@tuple")} == {
        "@scalar": 8, "@int": 8, "@str": 8, "@tuple": 4 + 16 + 2 + 2}  # as a C struct
    assert specs["@scalar"].key_type is None


def test_map_order_and_internal_maps() -> None:
    program = compile_text("BEGIN { @b = 1; @a[1] = count(); }",
                           Options(max_map_keys=100, ringbuf_pages=16))
    names = [m.name for m in program.maps]
    assert names[:2] == ["@a", "@b"]  # user maps first, sorted: the printing order
    assert program.user_maps == (0, 1)
    internal = {m.name: m for m in program.maps[2:]}
    assert set(internal) == {".events", ".counters", ".globals", ".scratch"}
    assert internal[".events"].map_type == MapType.RINGBUF
    assert internal[".events"].max_entries == 16 * 4096
    assert program.maps[program.ringbuf_map].name == ".events"
    assert program.maps[program.counters_map].name == ".counters"
    assert program.maps[program.globals_map].name == ".globals"
    counters = internal[".counters"]
    assert (counters.map_type, counters.key_size, counters.value_size) == (
        MapType.PERCPU_ARRAY, 4, 8)
    assert counters.max_entries == 1 + 2  # lost events, then one slot per user map
    assert [m.max_entries for m in program.maps[:2]] == [100, 1]  # @b holds one value


def test_scratch_map_grows_with_its_users() -> None:
    small = compiled(PROGRAMS["count_by_comm"])
    big = compiled(PROGRAMS["str"])
    assert next(m for m in small.maps if m.name == ".scratch").value_size == 8
    assert next(m for m in big.maps if m.name == ".scratch").value_size >= 1024


# ---- events ----------------------------------------------------------------------------------

def test_printf_layout_offsets_are_multiples_of_8() -> None:
    program = compile_text(r'BEGIN { printf("%d %s %s %d %s %d\n", pid, comm, "abc", nsecs, '
                           r'"0123456789", true); }')
    (fmt,) = program.printf_formats
    assert [a.offset for a in fmt.args] == [8, 16, 32, 40, 48, 64]
    assert [a.type for a in fmt.args] == [t.UINT32, t.Str(16), t.Str(4), t.UINT64, t.Str(11),
                                          t.BOOL]
    assert all(a.offset % 8 == 0 for a in fmt.args)


def test_printf_sites_are_numbered_in_order() -> None:
    program = compile_text(r'BEGIN { printf("a\n"); } END { printf("b %d\n", 1); }')
    first, second = program.printf_formats
    assert (first.segments, first.args) == (("a\n",), ())
    assert (second.segments[0], second.segments[-1], len(second.args)) == ("b ", "\n", 1)


def test_print_sites() -> None:
    program = compiled(PROGRAMS["maps"])
    a_index = next(i for i, m in enumerate(program.maps) if m.name == "@a")
    b_index = next(i for i, m in enumerate(program.maps) if m.name == "@b")
    first, second, value = program.print_sites
    assert (first.map_index, second.map_index) == (a_index, b_index)
    assert value.value is not None
    assert (value.value.type, value.value.offset) == (t.Int(8, False), 8)
