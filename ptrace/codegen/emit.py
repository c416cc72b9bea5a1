"""LLVM module → optimised IR → BPF ELF object → instructions per program.

All programs of a script go into one module and one `emit_object` call (one
section each), which is much faster than a module per program.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from functools import cache
from typing import Any

import llvmlite.binding as llvm
from llvmlite import ir


@cache
def _target_machine() -> Any:
    llvm.initialize_all_targets()
    llvm.initialize_all_asmprinters()
    target = llvm.Target.from_triple("bpfel")
    return target.create_target_machine(cpu="v3", opt=2, reloc="static", codemodel="small")


def new_module(name: str) -> ir.Module:
    module = ir.Module(name)
    module.triple = "bpfel"
    module.data_layout = str(_target_machine().target_data)
    return module


@dataclass
class Emitted:
    sections: dict[str, bytes]  # section name → instructions
    ir_text: str
    ir_optimized: str
    asm: str


def emit(module: ir.Module, want_asm: bool = False) -> Emitted:
    """Verify, optimise at O2 and compile `module` to BPF."""
    tm = _target_machine()
    ir_text = str(module)
    parsed = llvm.parse_assembly(ir_text)
    parsed.verify()
    tuning = llvm.create_pipeline_tuning_options(speed_level=2)
    builder = llvm.create_pass_builder(tm, tuning)
    builder.getModulePassManager().run(parsed, builder)
    asm = tm.emit_assembly(parsed) if want_asm else ""
    obj = tm.emit_object(parsed)
    return Emitted(elf_sections(obj), ir_text, str(parsed), asm)


def elf_sections(obj: bytes) -> dict[str, bytes]:
    """The PROGBITS sections of a little-endian ELF64 object, by name.

    Programs need no relocations (maps are referred to by index through
    ld_imm64, and there are no globals), so a relocation section means a bug.
    """
    (shoff,) = struct.unpack_from("<Q", obj, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", obj, 0x3A)
    headers = [struct.unpack_from("<IIQQQQIIQQ", obj, shoff + i * shentsize)
               for i in range(shnum)]
    names_off = headers[shstrndx][4]

    def name_of(offset: int) -> str:
        end = obj.index(b"\0", names_off + offset)
        return obj[names_off + offset:end].decode()

    sections: dict[str, bytes] = {}
    for name_idx, sh_type, _flags, _addr, offset, size, *_ in headers:
        name = name_of(name_idx)
        if sh_type == 9 and name.startswith(".rel") and not name.startswith(".rel.BTF"):
            raise RuntimeError(f"internal error: unexpected relocations in {name}")
        if sh_type == 1 and size:  # SHT_PROGBITS
            sections[name] = obj[offset:offset + size]
    return sections
