"""Debug information of user binaries on the command line: `-lv` with a
function's parameters, the functions only a debug file names, the errors
where there is no debug information, and that scripts without DWARF do not
load the reader. The programs' runs are in cases/dwarf.case; ptt_dwarf and
its variants are built by tests/conftest.py."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

LIBC = "/lib/x86_64-linux-gnu/libc.so.6"


def ptrace(ptrace_exe: list[str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*ptrace_exe, *args], capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL)


def test_lv_lists_a_functions_parameters(ptrace_exe: list[str], triggers: Path) -> None:
    out = ptrace(ptrace_exe, "-lv", f"uprobe:{triggers}/ptt_dwarf:ptt_*")
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [
        f"uprobe:{triggers}/ptt_dwarf:ptt_linked",
        "    struct ptt_links* links",
        f"uprobe:{triggers}/ptt_dwarf:ptt_many",
        *(f"    int {name}" for name in "abcdefg"),
        "    long int h",
        f"uprobe:{triggers}/ptt_dwarf:ptt_paired",
        "    struct ptt_pair pair",
        f"uprobe:{triggers}/ptt_dwarf:ptt_point_sum",
        "    struct ptt_point* point",
        "    char tag",
        "    enum ptt_color color",
        f"uprobe:{triggers}/ptt_dwarf:ptt_scaled",
        "    double factor",
        "    struct ptt_point point",
        "    int count",
    ]


@pytest.mark.parametrize(("binary", "options"), [
    ("ptt_dwarf_linked", []),  # .gnu_debuglink, in .debug/ beside it
    ("ptt_dwarf_bare", []),  # likewise, and only the debug file names the function
    ("ptt_dwarf_split", []),  # -gsplit-dwarf: the .dwo file beside it
    ("ptt_dwarf_packaged", []),  # -gsplit-dwarf, packed: the .dwp file beside it
    ("ptt_dwarf_stripped", ["--debuginfo", "debug"]),  # relative: from the binary's directory
])
def test_lv_finds_separate_debug_information(ptrace_exe: list[str], triggers: Path,
                                             binary: str, options: list[str]) -> None:
    out = ptrace(ptrace_exe, "-lv", f"uprobe:{triggers}/{binary}:ptt_point_sum", *options)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[1:] == [
        "    struct ptt_point* point", "    char tag", "    enum ptt_color color"]


def test_lv_reads_a_dwarf5_package(ptrace_exe: list[str], tmp_path: Path) -> None:
    """A DWARF 5 package (llvm-dwp's: binutils' dwp packs DWARF 4 only) with
    two units: each function is found in its own. scripts/setup installs
    llvm-dwp (Debian's llvm)."""
    (tmp_path / "one.c").write_text("struct box { int size; };\n"
                                    "int ptt_open_box(struct box *b, char how) "
                                    "{ return b->size + how; }\n")
    (tmp_path / "two.c").write_text("struct box { int size; };\n"
                                    "int ptt_open_box(struct box *b, char how);\n"
                                    "long ptt_main_count(long count) { return count; }\n"
                                    "int main(void) { struct box b = { 1 }; "
                                    "return ptt_open_box(&b, 'a') + ptt_main_count(2); }\n")
    for command in (["gcc", "-g", "-O0", "-gsplit-dwarf", "-o", "boxes", "one.c", "two.c"],
                    ["llvm-dwp", "-e", "boxes", "-o", "boxes.dwp"]):
        subprocess.run(command, check=True, cwd=tmp_path, timeout=60)
    for dwo in tmp_path.glob("*.dwo"):
        dwo.unlink()
    out = ptrace(ptrace_exe, "-lv", f"uprobe:{tmp_path}/boxes:ptt_*")
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [
        f"uprobe:{tmp_path}/boxes:ptt_main_count", "    long int count",
        f"uprobe:{tmp_path}/boxes:ptt_open_box", "    struct box* b", "    char how"]


def test_lv_without_debug_information_lists_the_name(ptrace_exe: list[str],
                                                     triggers: Path) -> None:
    out = ptrace(ptrace_exe, "-lv", f"uprobe:{triggers}/ptt_dwarf_stripped:ptt_point_sum")
    assert (out.returncode, out.stdout, out.stderr) == (
        0, f"uprobe:{triggers}/ptt_dwarf_stripped:ptt_point_sum\n", "")


@pytest.mark.bpf
@pytest.mark.parametrize(("program", "column", "message"), [
    ("uprobe:{t}/ptt_dwarf_nodebug:ptt_point_sum {{ print(args.tag); }}", "args",
     "{t}/ptt_dwarf_nodebug has no debug information: 'args' needs it to know the "
     "parameters of ptt_point_sum()"),
    ("uprobe:{t}/ptt_dwarf:ptt_scaled {{ print(args.factor); }}", "args.factor",
     "parameter 'factor' is a double, which x86-64 passes in a vector register, out of "
     "a uprobe's reach"),
    ("uprobe:{t}/ptt_dwarf:ptt_paired {{ print(args.pair); }}", "args.pair",
     "parameter 'pair' is a struct ptt_pair, passed by value in registers, which cannot "
     "be read yet"),
    ("uprobe:{t}/ptt_dwarf:ptt_scaled {{ print(args); }}", "args",
     "'args' cannot be read whole: parameter 'factor' is a double, which x86-64 passes "
     "in a vector register, out of a uprobe's reach"),
    ("uprobe:{t}/ptt_dwarf:ptt_point_sum {{ print(args.y); }}", "args.y",
     "ptt_point_sum() has no parameter 'y'"),
    ("uprobe:{t}/ptt_dwarf:0x1000 {{ print(args); }}", "args",
     "'args' needs the probed function's name; uprobe:{t}/ptt_dwarf:0x1000 gives an address"),
    ("uprobe:{t}/ptt_dwarf@ptt_dwarf.c:1 {{ exit(); }}", "uprobe",
     "the line table of {t}/ptt_dwarf has no code at ptt_dwarf.c:1"),
    ("uprobe:{t}/ptt_dwarf_nodebug@ptt_dwarf.c:27 {{ exit(); }}", "uprobe",
     "{t}/ptt_dwarf_nodebug has no debug information: a probe on a source line needs it"),
    ("uretprobe:{t}/ptt_dwarf@ptt_dwarf.c:27 {{ exit(); }}", "uretprobe",
     "a uretprobe is placed on a function's return, not on a source line"),
])
def test_errors_are_located(ptrace_exe: list[str], triggers: Path, program: str, column: str,
                            message: str) -> None:
    text = program.format(t=triggers)
    out = ptrace(ptrace_exe, "-e", text)
    first = out.stderr.splitlines()[0]
    assert out.returncode == 1
    assert first == f"-e:1:{text.index(column) + 1}: error: {message.format(t=triggers)}"
    assert "Traceback" not in out.stderr


def test_libc_functions_only_its_debug_file_names(ptrace_exe: list[str]) -> None:
    """libc keeps only its exported symbols; libc6-dbg's file (scripts/setup
    installs it) names the others, with their parameters."""
    own = ptrace(ptrace_exe, "-l", f"uprobe:{LIBC}:*")
    assert own.returncode == 0, own.stderr
    assert f"uprobe:{LIBC}:ydhms_diff" in own.stdout.splitlines()
    listed = ptrace(ptrace_exe, "-lv", f"uprobe:{LIBC}:ydhms_diff")
    assert listed.stdout.splitlines()[1:3] == ["    long_int year1", "    long_int yday1"]


def test_scripts_without_debug_information_do_not_load_the_reader(triggers: Path) -> None:
    script = f"uprobe:{triggers}/ptt_uprobe:ptt_add {{ @[arg0] = count(); }}"
    code = ("import sys; from ptrace.compile import compile; "
            "from ptrace.diagnostics import Source; "
            f"compile(Source('-e', {script!r})); "
            "print(sorted(m for m in sys.modules if m in ('ptrace.dwarf', 'ptrace.debuginfo', "
            "'ptrace.types.btf')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"


def test_debug_file_symbols_are_cached_per_build_id(ptrace_exe: list[str], triggers: Path,
                                                    tmp_path: Path) -> None:
    """The symbols of a separate debug file are kept between runs, in a cache
    file named by the binary's build id and checked against the debug file."""
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path)}
    pattern = f"uprobe:{triggers}/ptt_dwarf_linked:ptt_*"

    def listed() -> list[str]:
        out = subprocess.run([*ptrace_exe, "-l", pattern], capture_output=True, text=True,
                             timeout=60, env=env, check=True)
        return out.stdout.splitlines()

    first = listed()
    (cache,) = (tmp_path / "ptrace").glob("debug-*.symbols")
    stamp, *lines = cache.read_text().split("\n")
    assert stamp.startswith(f"{triggers}/.debug/ptt_dwarf_linked.debug ")
    cache.write_text("\n".join([stamp, *lines, "1000 10 ptt_only_in_the_cache"]))
    assert listed() == sorted([*first, f"uprobe:{triggers}/ptt_dwarf_linked:ptt_only_in_the_cache"])


@pytest.mark.bpf
def test_ustack_build_id_mode_gives_build_id_and_file_offset(ptrace_exe: list[str],
                                                              triggers: Path) -> None:
    """ustack(build_id): each frame as its binary's build id and the offset in
    the file (a PIE's code lies at the file offset equal to its address)."""
    binary = triggers / "ptt_stack"
    notes = subprocess.run(["readelf", "-n", str(binary)], capture_output=True, text=True,
                           check=True).stdout
    ident = notes.split("Build ID: ")[1].split()[0]
    symbols = subprocess.run(["nm", str(binary)], capture_output=True, text=True,
                             check=True).stdout
    start = next(int(line.split()[0], 16) for line in symbols.splitlines()
                 if line.endswith(" ptt_inner"))
    out = ptrace(ptrace_exe, "-e", f"uprobe:{binary}:ptt_inner {{ print(ustack(build_id, 1)); "
                 "exit(); }", "-c", f"{binary} 1")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip("\n") == f"{ident} 0x{start:x}"
