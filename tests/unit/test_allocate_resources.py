"""Tests for allocate_resources: the decisions it makes before codegen.

Scripts go through the passes up to allocate_resources, against the fixture
machine, without codegen: what these tests see is decided before lowering.
"""

from __future__ import annotations

from ptrace.diagnostics import Source
from ptrace.options import Options
from ptrace.parse import parse_program
from ptrace.passes.allocate_resources import (
    SMALL_RINGBUF_PAGES,
    STRERROR,
    Resources,
    allocate_resources,
)
from ptrace.passes.check_types import check_types
from ptrace.passes.context import CompileContext
from ptrace.passes.expand_probes import expand_probes
from ptrace.program import HELPER_ERROR
from tests.unit.fixtures import compile_text, fixture_machine

# Every helper whose failure -k or -kk reports, once; the columns of each call.
CHECKED = ('tracepoint:syscalls:sys_enter_openat { @m[1] = 2; @n++; @c = count(); '
           '$s = str(args.filename); $v = *(uint32 *)8; signal("KILL"); $k = kstack; }')
UPDATE, INCREMENT, COUNT, STR, DEREF, SIGNAL, KSTACK = (
    CHECKED.index(call) + 1 for call in ("@m[1]", "@n++", "@c =", "str(", "*(", "signal(",
                                         "kstack"))


def allocated(text: str, options: Options) -> Resources:
    source = Source("test.bt", text)
    ctx = CompileContext(source, options, fixture_machine(), parse_program(source))
    expand_probes(ctx)
    check_types(ctx)
    assert not ctx.reporter.has_errors, ctx.reporter.diagnostics
    return allocate_resources(ctx)


def test_helper_error_sites_are_decided_before_codegen() -> None:
    res = allocated(CHECKED, Options(helper_errors=2, unsafe=True))
    assert sorted(res.helper_error_sites, key=lambda key: int(key[0].split(":")[2])) == [
        (f"test.bt:1:{UPDATE}", "bpf_map_update_elem"),
        (f"test.bt:1:{INCREMENT}", "bpf_map_update_elem"),
        (f"test.bt:1:{COUNT}", "bpf_map_update_elem"),
        (f"test.bt:1:{STR}", "bpf_probe_read_user_str"),  # a syscall's pointer
        (f"test.bt:1:{DEREF}", "bpf_probe_read_kernel"),
        (f"test.bt:1:{SIGNAL}", "bpf_send_signal"),
        (f"test.bt:1:{KSTACK}", "bpf_get_stackid"),
    ]
    for (location, name), site in res.helper_error_sites.items():
        warning = res.printf_sites[site]
        assert (warning.kind, warning.location, warning.segments[:2]) == (
            HELPER_ERROR, location, (name, " failed: "))
        assert [arg.type for arg in res.printf_layouts[site].args] == [STRERROR]


def test_level_one_leaves_reads_unchecked() -> None:
    res = allocated(CHECKED, Options(helper_errors=1, unsafe=True))
    assert sorted(int(location.split(":")[2]) for location, _ in res.helper_error_sites) == [
        UPDATE, INCREMENT, COUNT, SIGNAL, KSTACK]
    assert allocated(CHECKED, Options(unsafe=True)).helper_error_sites == {}


def test_helper_error_sites_follow_the_checkers_sites() -> None:
    res = allocated('BEGIN { printf("a\\n"); @x = 1; printf("b\\n"); }', Options(helper_errors=1))
    assert [site.kind for site in res.printf_sites] == ["printf", "printf", HELPER_ERROR]
    assert list(res.helper_error_sites.values()) == [2]


def test_instances_and_unrolled_copies_share_a_site() -> None:
    text = "tracepoint:sched:sched_process_* { unroll(3) { @[probe] = 1; } }"
    res = allocated(text, Options(helper_errors=1))
    column = text.index("@[") + 1
    assert list(res.helper_error_sites) == [(f"test.bt:1:{column}", "bpf_map_update_elem")]


def test_sizeof_operand_is_not_read() -> None:
    res = allocated("BEGIN { $n = sizeof(*(uint32 *)8); }", Options(helper_errors=2, unsafe=True))
    assert res.helper_error_sites == {}


def test_lowering_finds_every_site_it_checks() -> None:
    """The lowering looks each checked helper's site up (a missing one is a
    KeyError) and adds none: the compiled formats are the allocated sites."""
    options = Options(helper_errors=2, unsafe=True)
    program = compile_text(CHECKED, options)
    res = allocated(CHECKED, options)
    assert [(f.kind, f.location) for f in program.printf_formats] == [
        (site.kind, site.location) for site in res.printf_sites]


def ring_buffer_pages(text: str, options: Options | None = None) -> int:
    res = allocated(text, options or Options())
    return res.maps[res.ringbuf_map].max_entries // 4096


def test_the_ring_buffer_is_large_where_a_traced_event_prints() -> None:
    default = Options().ringbuf_pages
    assert default == 8192
    assert ring_buffer_pages('tracepoint:syscalls:sys_enter_openat { printf("%d\\n", pid); }') \
        == default
    assert ring_buffer_pages('interval:s:1 { if (pid > 0) { print(@c); } } '
                             'tracepoint:syscalls:sys_enter_openat { @c = count(); }') == default


def test_the_ring_buffer_is_small_where_only_begin_and_end_print() -> None:
    assert ring_buffer_pages('BEGIN { printf("tracing\\n"); } '
                             'tracepoint:syscalls:sys_enter_openat { @[comm] = count(); } '
                             'END { print(@); }') == SMALL_RINGBUF_PAGES


def test_a_ring_buffer_size_set_is_kept() -> None:
    assert ring_buffer_pages("tracepoint:syscalls:sys_enter_openat { @[comm] = count(); }",
                             Options(ringbuf_pages=1024)) == 1024


def test_histograms_keep_sums_only_when_asked() -> None:
    """A one-liner's hist() is a count per bucket; compiled for the API or --metrics
    (hist_sums) each bucket also holds the sum of its values: 16 bytes."""
    text = "BEGIN { @h = hist(1); @l[1] = lhist(2, 0, 10, 1); @c = count(); }"
    for options, size in ((Options(), 8), (Options(hist_sums=True), 16)):
        sizes = {spec.name: spec.value_size for spec in allocated(text, options).maps
                 if spec.name in ("@h", "@l", "@c")}
        assert sizes == {"@h": size, "@l": size, "@c": 8}


def test_a_scalar_map_has_one_entry() -> None:
    """A map without a key holds one value, whatever max_map_keys is (the kernel
    allocates a hash map's entries when it is created); a histogram's keys are
    its buckets and a keyed map's its keys, so those keep max_map_keys."""
    res = allocated('BEGIN { @a = 1; @c = count(); @s = "x"; @h = hist(3); @m[1] = 2; '
                    "@t = tseries(1, 1s, 5); }", Options(max_map_keys=1000))
    entries = {spec.name: spec.max_entries for spec in res.maps if spec.name.startswith("@")}
    assert entries == {"@a": 1, "@c": 1, "@s": 1, "@h": 1000, "@m": 1000, "@t": 5}
