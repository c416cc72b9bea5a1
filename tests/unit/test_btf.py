"""Tests for the BTF reader (ptrace.types.btf).

Hand-built blobs pin down every kind and the tricky layouts exactly; the real
/sys/kernel/btf/vmlinux is then checked against bpftool's raw dump of it, type
by type, so the parser is verified on everything this kernel has.
"""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
from array import array
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from ptrace.types import btf as btf_module
from ptrace.types.btf import (
    VMLINUX,
    Array,
    Btf,
    BtfError,
    BtfType,
    Const,
    Datasec,
    DeclTag,
    Enum,
    Enum64,
    Enumerator,
    Float,
    Func,
    FuncProto,
    Fwd,
    Int,
    Member,
    Param,
    Ptr,
    Restrict,
    Struct,
    Typedef,
    TypeTag,
    Union,
    Var,
    VarSecinfo,
    Void,
    Volatile,
)

INT, PTR, ARRAY, STRUCT, UNION, ENUM, FWD, TYPEDEF = 1, 2, 3, 4, 5, 6, 7, 8
VOLATILE, CONST, RESTRICT, FUNC, FUNC_PROTO, VAR, DATASEC = 9, 10, 11, 12, 13, 14, 15
FLOAT, DECL_TAG, TYPE_TAG, ENUM64 = 16, 17, 18, 19
SIGNED, CHAR, BOOL = 1, 2, 4


class BtfBuilder:
    """Assembles a raw BTF blob, type by type, in the kernel's layout (native order).
    With a base, it is split BTF: ids and string offsets continue after the base's."""

    def __init__(self, base: BtfBuilder | None = None) -> None:
        self.base = base
        self.next_id: int = base.next_id if base else 1
        self.str_base: int = base.str_base + len(base.strings) if base else 0
        self.strings: bytearray = bytearray() if base else bytearray(b"\0")
        self.types = bytearray()
        self.offsets: dict[str, int] = {}

    def s(self, text: str) -> int:
        if not text:
            return 0
        if self.base and text in self.base.offsets:
            return self.base.offsets[text]
        if text not in self.offsets:
            self.offsets[text] = self.str_base + len(self.strings)
            self.strings += text.encode() + b"\0"
        return self.offsets[text]

    def add(self, kind: int, name: str, ref: int = 0, vlen: int = 0, kflag: bool = False,
            tail: tuple[int, ...] = ()) -> int:
        info = kflag << 31 | kind << 24 | vlen
        self.types += struct.pack(f"=III{len(tail)}I", self.s(name), info, ref,
                                  *(v & 0xFFFFFFFF for v in tail))
        self.next_id += 1
        return self.next_id - 1

    def int_(self, name: str, size: int, encoding: int = 0, bits: int | None = None,
             offset: int = 0) -> int:
        bits = size * 8 if bits is None else bits
        return self.add(INT, name, size, tail=(encoding << 24 | offset << 16 | bits,))

    def composite(self, kind: int, name: str, size: int,
                  members: list[tuple[str, int, int, int]], kflag: bool = True) -> int:
        tail: list[int] = []
        for member, type_id, bit_offset, bitfield in members:
            tail += [self.s(member), type_id, bitfield << 24 | bit_offset if kflag else bit_offset]
        return self.add(kind, name, size, len(members), kflag, tuple(tail))

    def enum(self, name: str, size: int, values: list[tuple[str, int]],
             signed: bool = False) -> int:
        tail = [x for n, v in values for x in (self.s(n), v)]
        return self.add(ENUM, name, size, len(values), signed, tuple(tail))

    def enum64(self, name: str, values: list[tuple[str, int]], signed: bool = False) -> int:
        tail = [x for n, v in values for x in (self.s(n), v & 0xFFFFFFFF, v >> 32 & 0xFFFFFFFF)]
        return self.add(ENUM64, name, 8, len(values), signed, tuple(tail))

    def proto(self, ret: int, params: list[tuple[str, int]]) -> int:
        tail = [x for n, t in params for x in (self.s(n), t)]
        return self.add(FUNC_PROTO, "", ret, len(params), tail=tuple(tail))

    def blob(self) -> bytes:
        header = struct.pack("=HBBIIIII", 0xEB9F, 1, 0, 24, 0, len(self.types),
                             len(self.types), len(self.strings))
        return header + bytes(self.types) + bytes(self.strings)


@dataclass
class Kernel:
    """A small kernel's worth of types, with their ids."""

    b: BtfBuilder = field(default_factory=BtfBuilder)
    ids: dict[str, int] = field(default_factory=dict)

    def build(self) -> Btf:
        return Btf.from_bytes(self.b.blob())


def small_kernel() -> Kernel:
    k = Kernel()
    b, i = k.b, k.ids
    i["int"] = b.int_("int", 4, SIGNED)
    i["uint"] = b.int_("unsigned int", 4)
    i["char"] = b.int_("char", 1, CHAR)
    i["bool"] = b.int_("_Bool", 1, BOOL)
    i["u64"] = b.int_("long long unsigned int", 8)
    i["typedef_u64"] = b.add(TYPEDEF, "u64", i["u64"])
    i["typedef_pid_t"] = b.add(TYPEDEF, "pid_t", i["int"])
    i["char16"] = b.add(ARRAY, "", tail=(i["char"], i["int"], 16))
    i["task_ptr"] = b.add(PTR, "", b.next_id + 1)
    # struct task_struct { pid_t pid; char comm[16]; struct task_struct *parent;
    #                      unsigned int flags:3, ptraced:1; union { int a; struct { char b, c; }; };
    #                      u64 start_time; }
    i["anon_inner"] = b.next_id + 2
    i["task_struct"] = b.composite(STRUCT, "task_struct", 48, [
        ("pid", i["typedef_pid_t"], 0, 0), ("comm", i["char16"], 32, 0),
        ("parent", i["task_ptr"], 192, 0), ("flags", i["uint"], 256, 3),
        ("ptraced", i["uint"], 259, 1), ("", b.next_id + 1, 288, 0),
        ("start_time", i["typedef_u64"], 320, 0)])
    i["anon_union"] = b.composite(UNION, "", 4, [("a", i["int"], 0, 0),
                                                 ("", i["anon_inner"], 0, 0)])
    assert b.composite(STRUCT, "", 2, [("b", i["char"], 0, 0), ("c", i["char"], 8, 0)]) \
        == i["anon_inner"]
    i["pid_type"] = b.enum("pid_type", 4, [("PIDTYPE_PID", 0), ("PIDTYPE_TGID", 1)])
    i["anon_enum"] = b.enum("", 4, [("TASK_COMM_LEN", 16), ("RPM_INVALID", -1)], signed=True)
    i["big_enum"] = b.enum64("perf_callchain_context", [("PERF_CONTEXT_USER", 2**64 - 512),
                                                        ("PERF_CONTEXT_MAX", 2**64 - 4095)])
    i["signed_enum64"] = b.enum64("s64e", [("S64_MIN", -2**63), ("S64_ONE", 1)], signed=True)
    i["fwd_file"] = b.add(FWD, "file")
    i["fwd_union"] = b.add(FWD, "maybe", kflag=True)
    i["file"] = b.composite(STRUCT, "file", 8, [("f_flags", i["uint"], 0, 0),
                                                 ("f_mode", i["uint"], 32, 0)])
    i["file_ptr"] = b.add(PTR, "", i["file"])
    i["const_char"] = b.add(CONST, "", i["char"])
    i["const_char_ptr"] = b.add(PTR, "", i["const_char"])
    i["volatile_int"] = b.add(VOLATILE, "", i["int"])
    i["restrict_ptr"] = b.add(RESTRICT, "", i["const_char_ptr"])
    i["user_tag"] = b.add(TYPE_TAG, "user", i["char"])
    i["user_ptr"] = b.add(PTR, "", i["user_tag"])
    i["loff_t"] = b.add(TYPEDEF, "loff_t", i["u64"])
    i["loff_ptr"] = b.add(PTR, "", i["loff_t"])
    i["vfs_read_proto"] = b.proto(i["int"], [("file", i["file_ptr"]), ("buf", i["user_ptr"]),
                                             ("count", i["typedef_u64"]), ("pos", i["loff_ptr"])])
    i["vfs_read"] = b.add(FUNC, "vfs_read", i["vfs_read_proto"], vlen=1)
    i["printk_proto"] = b.proto(i["int"], [("fmt", i["const_char_ptr"]), ("", 0)])
    i["printk"] = b.add(FUNC, "_printk", i["printk_proto"], vlen=2)
    i["void_proto"] = b.proto(0, [])
    i["cb_ptr"] = b.add(PTR, "", b.next_id + 1)
    i["cb_proto"] = b.proto(0, [("", i["int"]), ("", i["const_char_ptr"])])
    i["tp"] = b.add(TYPEDEF, "btf_trace_sched_switch", b.next_id + 1)
    i["tp_ptr"] = b.add(PTR, "", b.next_id + 1)
    i["tp_proto"] = b.proto(0, [("", b.next_id + 1), ("", i["bool"]), ("", i["task_ptr"])])
    i["void_ptr"] = b.add(PTR, "", 0)
    i["var"] = b.add(VAR, "runqueues", i["int"], tail=(1,))
    i["datasec"] = b.add(DATASEC, ".data..percpu", 64, 1, tail=(i["var"], 8, 4))
    i["double"] = b.add(FLOAT, "double", 8)
    i["decl_tag"] = b.add(DECL_TAG, "bpf_kfunc", i["vfs_read"], tail=(-1,))
    i["param_tag"] = b.add(DECL_TAG, "arg:ctx", i["vfs_read"], tail=(0,))
    return k


@pytest.fixture(scope="module")
def kernel() -> Kernel:
    return small_kernel()


@pytest.fixture(scope="module")
def btf(kernel: Kernel) -> Btf:
    return kernel.build()


# ---------------------------------------------------------------------- every kind, decoded


def test_every_kind_decodes_exactly(btf: Btf, kernel: Kernel) -> None:
    i = kernel.ids
    expected: list[BtfType] = [
        Void(0, "void"),
        Int(i["int"], "int", 4, 32, 0, True, False, False),
        Int(i["char"], "char", 1, 8, 0, False, True, False),
        Int(i["bool"], "_Bool", 1, 8, 0, False, False, True),
        Typedef(i["typedef_u64"], "u64", i["u64"]),
        Array(i["char16"], "", i["char"], i["int"], 16),
        Ptr(i["task_ptr"], "", i["task_struct"]),
        Union(i["anon_union"], "", 4, (Member("a", i["int"], 0, 0),
                                       Member("", i["anon_inner"], 0, 0))),
        Enum(i["pid_type"], "pid_type", 4, False, (Enumerator("PIDTYPE_PID", 0),
                                                   Enumerator("PIDTYPE_TGID", 1))),
        Enum(i["anon_enum"], "", 4, True, (Enumerator("TASK_COMM_LEN", 16),
                                           Enumerator("RPM_INVALID", -1))),
        Enum64(i["big_enum"], "perf_callchain_context", 8, False, (
            Enumerator("PERF_CONTEXT_USER", 2**64 - 512),
            Enumerator("PERF_CONTEXT_MAX", 2**64 - 4095))),
        Enum64(i["signed_enum64"], "s64e", 8, True, (Enumerator("S64_MIN", -2**63),
                                                     Enumerator("S64_ONE", 1))),
        Fwd(i["fwd_file"], "file", False),
        Fwd(i["fwd_union"], "maybe", True),
        Const(i["const_char"], "", i["char"]),
        Volatile(i["volatile_int"], "", i["int"]),
        Restrict(i["restrict_ptr"], "", i["const_char_ptr"]),
        TypeTag(i["user_tag"], "user", i["char"]),
        Func(i["vfs_read"], "vfs_read", i["vfs_read_proto"], "global"),
        Func(i["printk"], "_printk", i["printk_proto"], "extern"),
        FuncProto(i["vfs_read_proto"], "", i["int"], (
            Param("file", i["file_ptr"]), Param("buf", i["user_ptr"]),
            Param("count", i["typedef_u64"]), Param("pos", i["loff_ptr"])), False),
        FuncProto(i["printk_proto"], "", i["int"], (Param("fmt", i["const_char_ptr"]),), True),
        FuncProto(i["void_proto"], "", 0, (), False),
        Var(i["var"], "runqueues", i["int"], "global"),
        Datasec(i["datasec"], ".data..percpu", 64, (VarSecinfo(i["var"], 8, 4),)),
        Float(i["double"], "double", 8),
        DeclTag(i["decl_tag"], "bpf_kfunc", i["vfs_read"], -1),
        DeclTag(i["param_tag"], "arg:ctx", i["vfs_read"], 0),
    ]
    for t in expected:
        assert btf.type(t.id) == t
    assert btf.type(i["fwd_file"]) != Struct(i["fwd_file"], "file", 0, ())
    qualifiers: list[BtfType] = [Const(1, "", 2), Volatile(1, "", 2)]
    assert qualifiers[0] != qualifiers[1]  # the shared base's __eq__ checks the class
    assert [btf.type(t.id).kind for t in expected[:4]] == ["void", "int", "int", "int"]
    assert btf.last_id == i["param_tag"]


def test_kind_flag_bitfields(btf: Btf, kernel: Kernel) -> None:
    t = btf.type(kernel.ids["task_struct"])
    assert isinstance(t, Struct)
    assert t.members[3:5] == (Member("flags", kernel.ids["uint"], 256, 3),
                              Member("ptraced", kernel.ids["uint"], 259, 1))
    assert btf.member(t.id, "ptraced") == Member("ptraced", kernel.ids["uint"], 259, 1)
    ptraced = btf.member(t.id, "ptraced")
    assert ptraced is not None and ptraced.offset == 32


def test_bitfields_without_kind_flag_come_from_the_int() -> None:
    b = BtfBuilder()
    uint = b.int_("unsigned int", 4)
    three = b.int_("unsigned int", 4, bits=3)
    shifted = b.int_("unsigned int", 4, bits=5, offset=2)
    s = b.composite(STRUCT, "old", 8, [("a", three, 0, 0), ("b", shifted, 3, 0),
                                        ("c", uint, 32, 0)], kflag=False)
    btf = Btf.from_bytes(b.blob())
    assert btf.members(s) == [Member("a", three, 0, 3), Member("b", shifted, 5, 5),
                              Member("c", uint, 32, 0)]


def test_anonymous_members_are_flattened(btf: Btf, kernel: Kernel) -> None:
    i = kernel.ids
    assert btf.member(i["task_struct"], "c") == Member("c", i["char"], 296, 0)
    assert btf.member(i["task_struct"], "a") == Member("a", i["int"], 288, 0)
    assert btf.member(i["task_struct"], "") is None
    assert btf.member(i["task_struct"], "nope") is None
    assert [(m.name, m.bit_offset) for m in btf.members(i["task_struct"])] == [
        ("pid", 0), ("comm", 32), ("parent", 192), ("flags", 256), ("ptraced", 259),
        ("a", 288), ("b", 288), ("c", 296), ("start_time", 320)]
    assert btf.members(i["anon_union"]) == [Member("a", i["int"], 0, 0),
                                            Member("b", i["char"], 0, 0),
                                            Member("c", i["char"], 8, 0)]
    with pytest.raises(BtfError, match="not a struct or union"):
        btf.member(i["int"], "x")


def test_follow_members_to_the_struct_they_reach() -> None:
    b = BtfBuilder()
    int_ = b.int_("int", 4, SIGNED)
    declared = b.add(FWD, "inner")  # `struct inner;`, defined below
    ghost = b.add(FWD, "ghost")  # declared, never defined
    embedded = b.composite(STRUCT, "embedded", 4, [("y", int_, 0, 0)])
    inner = b.composite(STRUCT, "inner", 4, [("x", int_, 0, 0)])
    outer = b.composite(STRUCT, "outer", 32, [
        ("in", b.add(PTR, "", declared), 0, 0), ("e", b.add(TYPEDEF, "e_t", embedded), 64, 0),
        ("g", b.add(PTR, "", ghost), 128, 0), ("n", int_, 192, 0)])
    btf = Btf.from_bytes(b.blob())
    assert btf.follow(outer, []) == outer
    assert btf.follow(outer, ["in"]) == inner  # through the pointer, to the definition
    assert btf.follow(outer, ["e"]) == embedded  # an embedded struct, through its typedef
    assert btf.follow(outer, ["in", "x"]) is None  # an int
    assert btf.follow(outer, ["g"]) is None  # no definition to go to
    assert btf.follow(outer, ["nope"]) is None


def test_typedef_chains_and_qualifiers_resolve() -> None:
    b = BtfBuilder()
    long = b.int_("long int", 8, SIGNED)
    s64 = b.add(TYPEDEF, "s64", long)
    cv = b.add(CONST, "", b.add(VOLATILE, "", s64))
    ktime = b.add(TYPEDEF, "ktime_t", cv)
    tagged = b.add(TYPE_TAG, "percpu", ktime)
    restricted = b.add(RESTRICT, "", b.add(PTR, "", long))
    pair = b.composite(STRUCT, "", 16, [("t", ktime, 0, 0)])
    pair_t = b.add(TYPEDEF, "pair_t", b.add(CONST, "", pair))
    btf = Btf.from_bytes(b.blob())
    assert btf.resolve(tagged) == long
    assert btf.resolve(long) == long
    assert btf.resolve(0) == 0
    assert btf.resolve(restricted) == restricted - 1
    assert [btf.size(x) for x in (s64, cv, ktime, tagged, restricted, pair_t)] == [8] * 5 + [16]
    assert btf.c_name(ktime) == "ktime_t"
    assert btf.c_name(cv) == "const volatile s64"
    assert btf.c_name(tagged) == "ktime_t"
    assert btf.c_name(restricted) == "long int *restrict"
    assert btf.member(pair_t, "t") == Member("t", ktime, 0, 0)  # through typedef and const


def test_a_typedef_cycle_is_reported() -> None:
    b = BtfBuilder()
    b.add(TYPEDEF, "a", 2)
    b.add(TYPEDEF, "b", 1)
    with pytest.raises(BtfError, match="cycle"):
        Btf.from_bytes(b.blob()).resolve(1)


def test_arrays_sizes_and_c_names() -> None:
    b = BtfBuilder()
    int_ = b.int_("int", 4, SIGNED)
    char = b.int_("char", 1, CHAR)
    pair = b.composite(STRUCT, "pair", 8, [("a", int_, 0, 0), ("b", int_, 32, 0)])
    pairs = b.add(ARRAY, "", tail=(pair, int_, 3))
    grid = b.add(ARRAY, "", tail=(b.add(ARRAY, "", tail=(int_, int_, 3)), int_, 2))
    char_ptr = b.add(PTR, "", char)
    ptrs = b.add(ARRAY, "", tail=(char_ptr, int_, 4))
    ptr_to_array = b.add(PTR, "", b.add(ARRAY, "", tail=(int_, int_, 4)))
    const_ptr = b.add(CONST, "", char_ptr)
    ptr_ptr = b.add(PTR, "", b.add(PTR, "", b.add(CONST, "", char)))
    fn_ptr = b.add(PTR, "", b.proto(0, [("x", int_), ("", char_ptr)]))
    no_args = b.add(PTR, "", b.proto(int_, []))
    variadic = b.add(PTR, "", b.proto(int_, [("fmt", char_ptr), ("", 0)]))
    fn_ptrs = b.add(ARRAY, "", tail=(no_args, int_, 2))
    anon = b.composite(UNION, "", 4, [("x", int_, 0, 0)])
    anon_enum = b.enum("", 4, [("A", 1)])
    fwd = b.add(FWD, "sock", kflag=True)
    zero = b.add(ARRAY, "", tail=(pair, int_, 0))
    void_ptr = b.add(PTR, "", 0)
    func = b.add(FUNC, "do_it", b.proto(int_, [("p", void_ptr)]))
    btf = Btf.from_bytes(b.blob())
    assert btf.size(pairs) == 24
    assert btf.size(grid) == 24
    assert btf.size(ptrs) == 32
    assert btf.size(zero) == 0
    assert btf.size(ptr_to_array) == 8
    names = {pairs: "struct pair[3]", grid: "int[2][3]", ptrs: "char *[4]",
             ptr_to_array: "int (*)[4]", const_ptr: "char *const",
             ptr_ptr: "const char **", fn_ptr: "void (*)(int, char *)",
             no_args: "int (*)(void)", variadic: "int (*)(char *, ...)",
             fn_ptrs: "int (*[2])(void)", anon: "union {...}", anon_enum: "enum {...}",
             fwd: "union sock", void_ptr: "void *", 0: "void", pair: "struct pair",
             func: "int do_it(void *)"}
    assert {t: btf.c_name(t) for t in names} == names


def test_what_has_no_size(btf: Btf, kernel: Kernel) -> None:
    i = kernel.ids
    for t in (0, i["fwd_file"], i["vfs_read"], i["vfs_read_proto"]):
        with pytest.raises(BtfError, match="has no size"):
            btf.size(t)
    assert btf.size(i["var"]) == 4
    assert btf.size(i["datasec"]) == 64
    assert btf.size(i["big_enum"]) == 8
    assert btf.size(i["double"]) == 8


# ---------------------------------------------------------------------------------- lookups


def test_find_by_name_and_kind(btf: Btf, kernel: Kernel) -> None:
    i = kernel.ids
    assert btf.find("task_struct") == i["task_struct"]
    assert btf.find("task_struct", "struct") == i["task_struct"]
    assert btf.find("task_struct", "union") is None
    assert btf.find("file") == i["file"]  # the definition, not the earlier forward declaration
    assert btf.find("file", "fwd") == i["fwd_file"]
    assert btf.find("maybe") == i["fwd_union"]  # only declared
    assert btf.find("u64") == i["typedef_u64"]
    assert btf.find("perf_callchain_context", "enum") == i["big_enum"]
    assert btf.find("perf_callchain_context", "enum64") == i["big_enum"]
    assert btf.find("pid_type", "enum64") is None
    assert btf.find("vfs_read", "func") == i["vfs_read"]
    assert btf.find("bpf_kfunc") is None  # a tag, not a type
    assert btf.find("bpf_kfunc", "decl_tag") == i["decl_tag"]
    assert btf.find(".data..percpu", "datasec") == i["datasec"]
    assert btf.find("runqueues", "var") == i["var"]
    assert btf.find("pid") is None  # a member name, not a type
    assert btf.find("PIDTYPE_PID") is None  # an enumerator
    for missing in ("", "task", "ask_struct", "task_struct\0", "nothing"):
        assert btf.find(missing) is None
    with pytest.raises(BtfError, match="unknown BTF kind"):
        btf.find("task_struct", "class")


def test_a_name_used_by_several_types() -> None:
    b = BtfBuilder()
    int_ = b.int_("int", 4, SIGNED)
    first = b.composite(STRUCT, "dup", 4, [("x", int_, 0, 0)])
    typedef = b.add(TYPEDEF, "dup", first)
    b.composite(STRUCT, "dup", 8, [("y", int_, 0, 0)])
    btf = Btf.from_bytes(b.blob())
    assert btf.find("dup") == first
    assert btf.find("dup", "typedef") == typedef
    assert btf.names("struct") == ["dup"]


def test_names_of_a_kind(btf: Btf) -> None:
    assert btf.names("struct") == ["file", "task_struct"]
    assert btf.names("typedef") == ["btf_trace_sched_switch", "loff_t", "pid_t", "u64"]
    assert btf.names("enum") == ["perf_callchain_context", "pid_type", "s64e"]
    assert btf.names("func") == ["_printk", "vfs_read"]


def test_enum_values(btf: Btf, kernel: Kernel) -> None:
    i = kernel.ids
    assert btf.enum_value("PIDTYPE_TGID") == (i["pid_type"], 1)
    assert btf.enum_value("TASK_COMM_LEN") == (i["anon_enum"], 16)
    assert btf.enum_value("RPM_INVALID") == (i["anon_enum"], -1)
    assert btf.enum_value("PERF_CONTEXT_MAX") == (i["big_enum"], 2**64 - 4095)
    assert btf.enum_value("S64_MIN") == (i["signed_enum64"], -2**63)
    for not_enumerators in ("pid", "task_struct", "file", "int", "PIDTYPE", ""):
        assert btf.enum_value(not_enumerators) is None


def test_func_params(btf: Btf, kernel: Kernel) -> None:
    i = kernel.ids
    params = btf.func_params("vfs_read")
    assert params == [("file", i["file_ptr"]), ("buf", i["user_ptr"]),
                      ("count", i["typedef_u64"]), ("pos", i["loff_ptr"])]
    assert [btf.c_name(t) for _, t in params] == ["struct file *", "char *", "u64", "loff_t *"]
    assert btf.func_params("_printk") == [("fmt", i["const_char_ptr"])]
    assert btf.func_params("task_struct") is None
    assert btf.func_params("nope") is None
    assert btf.c_name(i["vfs_read"]) == "int vfs_read(struct file *, char *, u64, loff_t *)"
    assert btf.c_name(i["printk"]) == "int _printk(const char *, ...)"


def test_tracepoint_typedef_is_a_pointer_to_a_prototype(btf: Btf, kernel: Kernel) -> None:
    tp = btf.find("btf_trace_sched_switch", "typedef")
    assert tp is not None
    ptr = btf.type(btf.resolve(tp))
    assert isinstance(ptr, Ptr)
    proto = btf.type(ptr.type)
    assert isinstance(proto, FuncProto)
    assert [btf.c_name(p.type) for p in proto.params] == [
        "void *", "_Bool", "struct task_struct *"]


def test_c_names(btf: Btf, kernel: Kernel) -> None:
    i = kernel.ids
    names = {"task_ptr": "struct task_struct *", "uint": "unsigned int", "char16": "char[16]",
             "typedef_u64": "u64", "const_char_ptr": "const char *", "user_ptr": "char *",
             "volatile_int": "volatile int", "restrict_ptr": "const char *restrict",
             "pid_type": "enum pid_type", "big_enum": "enum perf_callchain_context",
             "fwd_file": "struct file", "anon_union": "union {...}", "var": "int",
             "datasec": ".data..percpu", "double": "double", "tp": "btf_trace_sched_switch",
             "tp_ptr": "void (*)(void *, _Bool, struct task_struct *)",
             "cb_ptr": "void (*)(int, const char *)"}
    assert {k: btf.c_name(i[k]) for k in names} == names


def test_unknown_type_ids(btf: Btf) -> None:
    for bad in (btf.last_id + 1, -1):
        with pytest.raises(BtfError, match="no BTF type"):
            btf.type(bad)


# ---------------------------------------------------------------------------- split BTF


def split_kernel() -> tuple[Kernel, BtfBuilder, dict[str, int]]:
    """A module's BTF on top of the small kernel: its types use the base's, and some
    of its names are strings of the base."""
    k = small_kernel()
    m = BtfBuilder(k.b)
    m.s("nf_conn")  # the first split string: no NUL before it
    i = {"mod_struct": m.composite(STRUCT, "nf_conn", 24, [
        ("task", k.ids["task_ptr"], 0, 0), ("file", k.ids["file"], 64, 0),
        ("state", m.next_id + 1, 128, 0)])}
    i["state_enum"] = m.enum("nf_state", 4, [("NF_DROP", 0), ("NF_ACCEPT", 1)])
    i["dup_file"] = m.composite(STRUCT, "file", 4, [("mod_only", k.ids["int"], 0, 0)])
    i["mod_ptr"] = m.add(PTR, "", i["mod_struct"])
    i["func"] = m.add(FUNC, "nf_hook", m.proto(k.ids["int"], [("ct", i["mod_ptr"]),
                                                               ("pid", k.ids["typedef_pid_t"])]))
    return k, m, i


def test_split_btf_continues_the_base() -> None:
    k, m, i = split_kernel()
    assert m.strings.startswith(b"nf_conn\0")  # a split string section starts with a name
    base = k.build()
    mod = Btf.from_bytes(m.blob(), base)
    assert i["mod_struct"] == base.last_id + 1
    assert mod.last_id == i["func"]
    assert mod.type(k.ids["task_struct"]) == base.type(k.ids["task_struct"])
    assert mod.type(0) == Void(0, "void")
    assert mod.find("nf_conn") == i["mod_struct"]
    assert mod.find("task_struct") == k.ids["task_struct"]
    assert mod.find("file") == k.ids["file"]  # the base's comes first
    assert mod.find("file", "struct") == k.ids["file"]
    assert base.find("nf_conn") is None
    assert mod.member(i["mod_struct"], "state") == Member("state", i["state_enum"], 128, 0)
    assert mod.c_name(i["mod_ptr"]) == "struct nf_conn *"
    assert mod.c_name(i["func"]) == "int nf_hook(struct nf_conn *, pid_t)"
    assert mod.size(i["mod_struct"]) == 24
    assert mod.resolve(k.ids["typedef_u64"]) == k.ids["u64"]
    assert mod.func_params("nf_hook") == [("ct", i["mod_ptr"]), ("pid", k.ids["typedef_pid_t"])]
    assert mod.func_params("vfs_read") == base.func_params("vfs_read")
    assert mod.enum_value("NF_ACCEPT") == (i["state_enum"], 1)
    assert mod.enum_value("PIDTYPE_TGID") == (k.ids["pid_type"], 1)
    assert mod.names("struct") == ["file", "nf_conn", "task_struct"]
    dup = mod.type(i["dup_file"])
    assert isinstance(dup, Struct) and dup.name == "file"  # a name from the base's strings
    assert dup.members == (Member("mod_only", k.ids["int"], 0, 0),)


# ------------------------------------------------------------------------------ bad input


def header(magic: int = 0xEB9F, version: int = 1, hdr_len: int = 24, type_len: int = 0,
           str_off: int = 0, str_len: int = 1) -> bytes:
    return struct.pack("=HBBIIIII", magic, version, 0, hdr_len, 0, type_len, str_off, str_len)


@pytest.mark.parametrize(("data", "message"), [
    (b"\x9f\xeb", "shorter than its header"),
    (header(magic=0x1234) + b"\0", "not BTF"),
    (header(magic=0x9FEB) + b"\0", "other byte order"),
    (header(version=2) + b"\0", "version 2"),
    (header(str_len=10) + b"\0", "outside the data"),
    (header(type_len=2) + b"\0\0\0", "outside the data"),
    (header(str_len=2) + b"\0a", "string section"),
    (header(str_len=0), "string section"),
    (header(type_len=12) + struct.pack("=III", 0, 25 << 24, 0) + b"\0", "unknown kind 25"),
    (header(type_len=12, str_off=12) + struct.pack("=III", 0, 1 << 24, 4) + b"\0",
     "truncated"),
    (header(type_len=12, str_off=12) + struct.pack("=III", 0, 4 << 24 | 2, 4) + b"\0",
     "truncated"),
])
def test_malformed_btf_is_reported(data: bytes, message: str) -> None:
    with pytest.raises(BtfError, match=message):
        Btf.from_bytes(data)


def test_an_empty_type_section() -> None:
    btf = Btf.from_bytes(header() + b"\0")
    assert btf.last_id == 0
    assert btf.find("int") is None
    assert btf.type(0) == Void(0, "void")


# ----------------------------------------------------------------------------- the cache


def test_load_caches_the_index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    scans = count_scans(monkeypatch)
    path = tmp_path / "vmlinux"
    path.write_bytes(small_kernel().b.blob())
    first = Btf.load(path)
    [cache] = (tmp_path / "cache" / "ptrace").iterdir()
    assert cache.suffix == ".idx" and len(scans) == 1
    second = Btf.load(path)
    assert len(scans) == 1  # from the cache
    assert second.find("task_struct") == first.find("task_struct")
    assert second.member(first.find("task_struct") or 0, "comm") is not None

    cache.write_bytes(cache.read_bytes()[:-1] + b"?")  # corrupt: scanned, and rewritten
    Btf.load(path)
    Btf.load(path)
    assert len(scans) == 2

    b = small_kernel().b
    b.int_("extra", 4)
    path.write_bytes(b.blob())  # another file under the same name: the cache is stale
    os.utime(path, ns=(1, 1))
    assert Btf.load(path).find("extra") is not None
    assert Btf.load(path).find("extra") is not None
    assert len(scans) == 3
    assert Btf.load(path, cache=False).find("extra") is not None
    assert len(scans) == 4
    assert [f.name for f in cache.parent.iterdir()] == [cache.name]  # no temporary left


def count_scans(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    scans: list[int] = []
    scan = btf_module._scan

    def counted(words: memoryview) -> tuple[array[int], bytes]:
        scans.append(len(words))
        return scan(words)

    monkeypatch.setattr(btf_module, "_scan", counted)
    return scans


def test_a_cache_that_cannot_be_written_is_ignored(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "file").write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "file"))  # not a directory
    path = tmp_path / "vmlinux"
    path.write_bytes(small_kernel().b.blob())
    assert Btf.load(path).find("task_struct") is not None
    assert sorted(tmp_path.iterdir()) == [tmp_path / "file", path]


def test_a_missing_file_is_reported(tmp_path: Path) -> None:
    with pytest.raises(BtfError, match="cannot read BTF"):
        Btf.load(tmp_path / "nothing")


# ---------------------------------------------------------------- the real kernel's BTF

needs_vmlinux = pytest.mark.skipif(not VMLINUX.exists(), reason=f"{VMLINUX} is missing")
needs_bpftool = pytest.mark.skipif(shutil.which("bpftool") is None,
                                   reason="bpftool is not installed")


@pytest.fixture(scope="module")
def vmlinux() -> Btf:
    return Btf.load(VMLINUX, cache=False)


@dataclass
class Dumped:
    """One type as `bpftool btf dump … format raw` shows it."""

    kind: str
    name: str
    attrs: dict[str, str]
    lines: list[str]  # the whole text: header line, then one line per member
    rows: list[dict[str, str]]


_DUMP_HEADER = re.compile(r"^\[(\d+)\] (\w+) '(.*?)'(.*)$")
_ATTR = re.compile(r"(\w+)=([^\s,]+)")


@pytest.fixture(scope="module")
def dump() -> dict[int, Dumped]:
    out = subprocess.run(["bpftool", "btf", "dump", "file", str(VMLINUX), "format", "raw"],
                         check=True, capture_output=True, text=True).stdout
    types: dict[int, Dumped] = {}
    current: Dumped | None = None
    for line in out.splitlines():
        m = _DUMP_HEADER.match(line)
        if m:
            current = Dumped(m[2], "" if m[3] == "(anon)" else m[3], dict(_ATTR.findall(m[4])),
                             [line], [])
            types[int(m[1])] = current
        else:
            assert current is not None and line.startswith("\t"), line
            current.lines.append(line)
            row = dict(_ATTR.findall(line))
            name = re.match(r"\t'(.*?)'", line)
            row["name"] = "" if name is None or name[1] == "(anon)" else name[1]
            current.rows.append(row)
    return types


def render(btf: Btf, t: BtfType) -> list[str]:
    """A decoded type in bpftool's raw format."""
    head = f"[{t.id}] {t.kind.upper()} '{t.name or '(anon)'}'"
    match t:
        case Int():
            encoding = ("BOOL" if t.is_bool else "CHAR" if t.is_char
                        else "SIGNED" if t.is_signed else "(none)")
            return [f"{head} size={t.size} bits_offset={t.bit_offset} nr_bits={t.bits}"
                    f" encoding={encoding}"]
        case Ptr() | Typedef() | Volatile() | Const() | Restrict() | TypeTag():
            return [f"{head} type_id={t.type}"]
        case Array():
            return [f"{head} type_id={t.elem_type} index_type_id={t.index_type}"
                    f" nr_elems={t.nelems}"]
        case Struct() | Union():
            return [f"{head} size={t.size} vlen={len(t.members)}"] + [
                f"\t'{m.name or '(anon)'}' type_id={m.type} bits_offset={m.bit_offset}"
                + (f" bitfield_size={m.bitfield_size}" if m.bitfield_size else "")
                for m in t.members]
        case Enum():
            suffix = ("LL" if t.is_signed else "ULL") if isinstance(t, Enum64) else ""
            return [f"{head} encoding={'SIGNED' if t.is_signed else 'UNSIGNED'} size={t.size}"
                    f" vlen={len(t.values)}"] + [f"\t'{e.name}' val={e.value}{suffix}"
                                                 for e in t.values]
        case Fwd():
            return [f"{head} fwd_kind={'union' if t.is_union else 'struct'}"]
        case Func():
            return [f"{head} type_id={t.type} linkage={t.linkage}"]
        case FuncProto():
            params = [*t.params, Param("", 0)] if t.variadic else list(t.params)
            return [f"{head} ret_type_id={t.return_type} vlen={len(params)}"] + [
                f"\t'{p.name or '(anon)'}' type_id={p.type}" for p in params]
        case Var():
            return [f"{head} type_id={t.type}, linkage={t.linkage}"]
        case Datasec():
            return [f"{head} size={t.size} vlen={len(t.vars)}"] + [
                f"\ttype_id={v.type} offset={v.offset} size={v.size} (VAR"
                f" '{btf.type(v.type).name}')" for v in t.vars]
        case Float():
            return [f"{head} size={t.size}"]
        case DeclTag():
            return [f"{head} type_id={t.type} component_idx={t.component_idx}"]
    raise AssertionError(t)


@needs_vmlinux
@needs_bpftool
def test_every_vmlinux_type_matches_bpftool(dump: dict[int, Dumped]) -> None:
    btf = Btf.load(VMLINUX, cache=False)  # its own: decoding everything fills the type cache
    assert btf.last_id == max(dump)
    mismatches = [(type_id, render(btf, btf.type(type_id)), d.lines)
                  for type_id, d in dump.items() if render(btf, btf.type(type_id)) != d.lines]
    assert mismatches[:3] == []


def reference_size(dump: dict[int, Dumped], type_id: int) -> int:
    d = dump[type_id]
    if d.kind in ("TYPEDEF", "CONST", "VOLATILE", "RESTRICT", "TYPE_TAG"):
        return reference_size(dump, int(d.attrs["type_id"]))
    if d.kind == "ARRAY":
        return int(d.attrs["nr_elems"]) * reference_size(dump, int(d.attrs["type_id"]))
    return 8 if d.kind == "PTR" else int(d.attrs["size"])


def reference_fields(dump: dict[int, Dumped], type_id: int, base: int = 0,
                     ) -> list[tuple[str, int, int]]:
    """(name, bit offset, bitfield size) of every named field, anonymous ones flattened."""
    out: list[tuple[str, int, int]] = []
    for row in dump[type_id].rows:
        offset = base + int(row["bits_offset"])
        if row["name"]:
            out.append((row["name"], offset, int(row.get("bitfield_size", 0))))
            continue
        inner = int(row["type_id"])
        while dump[inner].kind in ("TYPEDEF", "CONST", "VOLATILE", "RESTRICT", "TYPE_TAG"):
            inner = int(dump[inner].attrs["type_id"])
        if dump[inner].kind in ("STRUCT", "UNION"):
            out += reference_fields(dump, inner, offset)
    return out


@needs_vmlinux
@needs_bpftool
def test_vmlinux_sizes_and_flattened_members_match_bpftool(vmlinux: Btf,
                                                           dump: dict[int, Dumped]) -> None:
    composites = [i for i, d in dump.items() if d.kind in ("STRUCT", "UNION")]
    assert len(composites) > 200
    for type_id in composites:
        assert vmlinux.size(type_id) == reference_size(dump, type_id), type_id
        fields = [(m.name, m.bit_offset, m.bitfield_size) for m in vmlinux.members(type_id)]
        assert fields == reference_fields(dump, type_id), type_id
        for name, offset, bitfield in fields:
            found = vmlinux.member(type_id, name)
            assert found is not None and (found.bit_offset, found.bitfield_size) \
                == (offset, bitfield)
    sized = [i for i, d in dump.items() if d.kind in ("ARRAY", "TYPEDEF")
             and reference_size_exists(dump, i)]
    assert all(vmlinux.size(i) == reference_size(dump, i) for i in sized)


def reference_size_exists(dump: dict[int, Dumped], type_id: int) -> bool:
    while dump[type_id].kind in ("TYPEDEF", "CONST", "VOLATILE", "RESTRICT", "TYPE_TAG",
                                 "ARRAY"):
        type_id = int(dump[type_id].attrs["type_id"])
        if type_id == 0:
            return False
    return dump[type_id].kind in ("INT", "PTR", "STRUCT", "UNION", "ENUM", "ENUM64", "FLOAT")


@needs_vmlinux
@needs_bpftool
def test_vmlinux_names_match_bpftool(vmlinux: Btf, dump: dict[int, Dumped]) -> None:
    for kind in ("STRUCT", "FUNC", "TYPEDEF"):
        expected = sorted({d.name for d in dump.values() if d.kind == kind and d.name})
        assert vmlinux.names(kind.lower()) == expected
    for name in ("task_struct", "file", "sk_buff", "pid", "list_head", "mm_struct"):
        first = min(i for i, d in dump.items() if d.name == name and d.kind == "STRUCT")
        assert vmlinux.find(name, "struct") == first


@needs_vmlinux
@needs_bpftool
def test_task_struct(vmlinux: Btf, dump: dict[int, Dumped]) -> None:
    task = vmlinux.find("task_struct", "struct")
    assert task is not None
    dumped = dump[task]
    assert vmlinux.size(task) == int(dumped.attrs["size"])
    pid_row = next(r for r in dumped.rows if r["name"] == "pid")
    pid = vmlinux.member(task, "pid")
    assert pid is not None and pid.bit_offset == int(pid_row["bits_offset"])
    assert vmlinux.c_name(pid.type) == "pid_t"
    assert vmlinux.size(pid.type) == 4
    comm = vmlinux.member(task, "comm")
    assert comm is not None and vmlinux.c_name(comm.type) == "char[16]"
    assert vmlinux.size(comm.type) == 16
    parent = vmlinux.member(task, "real_parent")
    assert parent is not None and vmlinux.c_name(parent.type) == "struct task_struct *"


@needs_vmlinux
def test_vmlinux_enums(vmlinux: Btf) -> None:
    pid_type = vmlinux.find("pid_type", "enum")
    assert vmlinux.enum_value("PIDTYPE_PID") == (pid_type, 0)
    found = vmlinux.enum_value("TASK_COMM_LEN")
    assert found is not None and found[1] == 16
    assert vmlinux.enum_value("task_struct") is None


@needs_vmlinux
def test_vmlinux_function_and_tracepoint_types(vmlinux: Btf) -> None:
    params = vmlinux.func_params("vfs_read")
    assert params is not None
    assert [(n, vmlinux.c_name(t)) for n, t in params] == [
        ("file", "struct file *"), ("buf", "char *"), ("count", "size_t"), ("pos", "loff_t *")]
    tp = vmlinux.find("btf_trace_sched_switch", "typedef")
    assert tp is not None
    ptr = vmlinux.type(vmlinux.resolve(tp))
    assert isinstance(ptr, Ptr)
    proto = vmlinux.type(ptr.type)
    assert isinstance(proto, FuncProto)
    # The typedef's parameters have no names; the __bpf_trace_ function's do.
    assert [vmlinux.c_name(p.type) for p in proto.params] == [
        "void *", "bool", "struct task_struct *", "struct task_struct *", "unsigned int"]
    named = vmlinux.func_params("__bpf_trace_sched_switch")
    assert named is not None
    assert [n for n, _ in named] == ["__data", "preempt", "prev", "next", "prev_state"]
    assert [t for _, t in named] == [p.type for p in proto.params]


@needs_vmlinux
def test_vmlinux_through_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                   vmlinux: Btf) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    scans = count_scans(monkeypatch)
    Btf.load(VMLINUX)
    cached = Btf.load(VMLINUX)
    assert len(scans) == 1
    assert cached.last_id == vmlinux.last_id
    assert cached.find("task_struct") == vmlinux.find("task_struct")
