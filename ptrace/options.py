"""Options that change what a script compiles to."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from typing import Any


@dataclass(frozen=True, slots=True)
class Options:
    """What a compile is asked for: the command line's and the environment's settings."""

    params: tuple[str, ...] = ()  # positional parameters $1, $2, …
    named_params: tuple[tuple[str, str | None], ...] = ()  # `-- --name[=value]`: getopt()
    max_strlen: int = 1024  # bytes kept of a string read with str()
    str_trunc_trailer: str = ".."  # printed after a string str() may have cut
    max_map_keys: int = 4096  # entries of each map
    max_probes: int = 1024  # attach points a script may expand to
    ringbuf_pages: int = 8192  # size of the event ring buffer, in pages (power of two)
    log_size: int = 1 << 20  # bytes of verifier log kept when loading fails
    print_maps_on_exit: bool = True
    missing_probes: str = "error"  # a probe that does not exist: error, warn or ignore
    stack_mode: str = "bpftrace"  # how stacks print: bpftrace, perf or raw
    show_debug_info: bool = False  # user stacks with file:line and inlined functions
    unsafe: bool = False
    helper_errors: int = 0  # 1 warns of failed helpers but reads, 2 (-k) of reads too
    has_command: bool = False  # -c CMD or -p PID: `cpid` means something
    pid: int = 0  # -p PID: usdt probes without a binary are looked for in its files
    debuginfo: tuple[str, ...] = ()  # --debuginfo DIR: where debug files are looked for first
    on_stack_limit: int = 128  # values up to this size go on the BPF stack, larger to scratch
    license: str = "GPL"  # the programs' license; the kernel wants a GPL-compatible one
    tseries_clock_map: str = ""  # a scalar map whose value tseries() takes as the time
    from_env: frozenset[str] = frozenset()  # settings given by environment variables
    # bpftrace's unstable features: "error" refuses a script that uses one
    unstable_map_decl: str = "enable"  # `let @m = hash(n);`
    unstable_tseries: str = "enable"  # tseries()
    unstable_addr: str = "enable"  # the address-of operator, &$x
    hist_sums: bool = False  # hist()/lhist() also keep the sum of their values (API, --metrics)
    # ptrace's own pid namespace as (device, inode) when it is not the first:
    # pid, tid, and the pids of user stacks are then as ptrace sees them.
    pid_namespace: tuple[int, ...] = ()
    includes: tuple[str, ...] = ()  # --include's headers: their integer macros are names
    include_dirs: tuple[str, ...] = ()  # -I DIR: where #include looks first
    no_features: tuple[str, ...] = ()  # --no-feature: kinds of link not to use (uprobe_multi)


def too_many_probes(limit: int, probes: int) -> tuple[str, str]:
    """The error at an attach point that takes a script past max_probes, and its hint."""
    return (f"the script attaches to more than {limit} probes ({probes} with this one)",
            "a narrower wildcard attaches faster; to allow more, raise max_probes "
            f"(config = {{ max_probes = {probes} }})")


@dataclass(frozen=True, slots=True)
class Setting:
    """A setting scripts give in `config = { … }` and users in PTRACE_<KEY>."""

    key: str
    field: str  # the Options field it sets
    kind: str  # "int" (positive), "count" (0 or more), "bool", "choice" or "text"
    choices: tuple[str, ...] = ()
    maximum: int | None = None  # the largest "int" accepted


# The largest values: strings of MAX_STRLEN_LIMIT bytes (bpftrace's tests use
# 9999), several at once, fit the scratch map (an array value of up to 4 MiB
# for each CPU) and the instruction budget of one probe; the kernel takes a
# verifier log buffer of at most UINT_MAX >> 2 bytes and a map of at most
# 2^32 - 1 entries; a ring buffer past RINGBUF_PAGES_LIMIT pages (1 GiB) is
# memory the machine misses.
MAX_STRLEN_LIMIT = 65536
LOG_SIZE_LIMIT = (1 << 30) - 1
MAX_ENTRIES_LIMIT = (1 << 32) - 1
RINGBUF_PAGES_LIMIT = 1 << 18
MAX_PROBES_LIMIT = 1 << 20

SETTINGS: dict[str, Setting] = {s.key: s for s in (
    Setting("max_strlen", "max_strlen", "int", maximum=MAX_STRLEN_LIMIT),
    Setting("str_trunc_trailer", "str_trunc_trailer", "text"),
    Setting("max_map_keys", "max_map_keys", "int", maximum=MAX_ENTRIES_LIMIT),
    Setting("max_probes", "max_probes", "int", maximum=MAX_PROBES_LIMIT),
    Setting("perf_rb_pages", "ringbuf_pages", "int", maximum=RINGBUF_PAGES_LIMIT),
    Setting("log_size", "log_size", "int", maximum=LOG_SIZE_LIMIT),
    Setting("print_maps_on_exit", "print_maps_on_exit", "bool"),
    Setting("missing_probes", "missing_probes", "choice", ("error", "warn", "ignore")),
    Setting("stack_mode", "stack_mode", "choice", ("bpftrace", "perf", "raw")),
    Setting("on_stack_limit", "on_stack_limit", "count"),
    Setting("license", "license", "choice", ("GPL", "GPL v2", "GPL and additional rights",
                                             "Dual BSD/GPL", "Dual MIT/GPL", "Dual MPL/GPL")),
    Setting("show_debug_info", "show_debug_info", "bool"),
    *(Setting(f"unstable_{name}", f"unstable_{name}", "choice", ("error", "warn", "enable"))
      for name in ("map_decl", "tseries", "addr")),
    Setting("dummy_ts_map", "tseries_clock_map", "text"),
)}


def unstable_refused(options: Options, feature: str, what: str) -> str | None:
    """The error for a script that uses an unstable feature its config (or
    the environment) set to `error`, or None."""
    if getattr(options, f"unstable_{feature}") != "error":
        return None
    return f"{what} is refused: unstable_{feature} is set to error"


def setting_key(name: str) -> str:
    """A config key as scripts may write it: `stack_mode` or bpftrace's
    environment name, `BPFTRACE_STACK_MODE`."""
    return (name[len("BPFTRACE_"):] if name.upper().startswith("BPFTRACE_") else name).lower()


def split_params(args: tuple[str, ...]) -> tuple[tuple[str, ...],
                                                tuple[tuple[str, str | None], ...]]:
    """The arguments after the program: positional parameters, and the named
    ones (`--name=value`, `--name`) that getopt() reads."""
    positional: list[str] = []
    named: list[tuple[str, str | None]] = []
    for arg in args:
        if arg.startswith("--") and len(arg) > 2:
            name, equals, value = arg[2:].partition("=")
            named.append((name, value if equals else None))
        else:
            positional.append(arg)
    return tuple(positional), tuple(named)


def param_integer(text: str) -> int | None:
    """A positional parameter's value as an integer, or None if it is not one.

    Decimal (leading zeros allowed: `010` is ten) or hexadecimal (`0x1f`),
    optionally negative. The caller checks the 64-bit range.
    """
    body = text[1:] if text.startswith("-") else text
    if body.isdigit():
        value = int(body, 10)
    elif body[:2].lower() == "0x" and len(body) > 2 and all(
            c in "0123456789abcdefABCDEF" for c in body[2:]):
        value = int(body, 16)
    else:
        return None
    return -value if text.startswith("-") else value


class SettingError(ValueError):
    pass


def setting_text(options: Options, key: str) -> str:
    """A setting's value as a user writes it: `true`, not Python's `True`."""
    value = getattr(options, SETTINGS[key].field)
    return str(value).lower() if isinstance(value, bool) else str(value)


def apply_setting(options: Options, key: str, value: int | str | bool) -> Options:
    """Options with one setting changed; SettingError says what is wrong with the value."""
    setting = SETTINGS[key]
    parsed: int | str | bool
    if setting.kind in ("int", "count"):
        number = value if isinstance(value, int) and not isinstance(value, bool) else (
            int(value) if isinstance(value, str) and value.isdigit() else None)
        if setting.kind == "count" and (number is None or number < 0):
            raise SettingError(f"{key} must be a whole number, not {value!r}")
        if setting.kind == "int" and (number is None or number <= 0):
            raise SettingError(f"{key} must be a positive whole number, not {value!r}")
        assert number is not None
        if setting.maximum is not None and number > setting.maximum:
            raise SettingError(f"{key} must be at most {setting.maximum}, not {number}")
        parsed = number
        if key == "perf_rb_pages":
            parsed = 1 << (number - 1).bit_length()  # the ring buffer is a power of two
    elif setting.kind == "bool":
        text = str(value).lower()
        if text not in ("true", "false", "1", "0"):
            raise SettingError(f"{key} must be true or false, not {value!r}")
        parsed = text in ("true", "1")
    elif setting.kind == "text":
        parsed = str(value)
    else:
        if str(value) not in setting.choices:
            raise SettingError(f"{key} must be one of {', '.join(setting.choices)}, "
                               f"not {value!r}")
        parsed = str(value)
    # The field is named by the settings table, so its type is known only there.
    change: dict[str, Any] = {setting.field: parsed}
    return replace(options, **change)


# The inode of the first pid namespace (the kernel's PROC_PID_INIT_INO).
INIT_PID_NAMESPACE_INODE = 0xEFFFFFFC


def own_pid_namespace() -> tuple[int, ...]:
    """ptrace's pid namespace as the kernel names it (device, inode), or () for
    the first one (or when /proc does not tell)."""
    try:
        info = os.stat("/proc/self/ns/pid")
    except OSError:
        return ()
    if info.st_ino == INIT_PID_NAMESPACE_INODE:
        return ()
    device = (os.major(info.st_dev) << 20) | os.minor(info.st_dev)  # the kernel's dev_t
    return (device, info.st_ino)


def from_environment(options: Options, environ: dict[str, str] | None = None) -> Options:
    """Apply PTRACE_<KEY> and BPFTRACE_<KEY> variables; PTRACE_ wins when both are set.
    The pid namespace ptrace runs in is taken too.

    The keys set here are remembered: they win over a script's config block.
    """
    env = os.environ if environ is None else environ
    given: set[str] = set()
    for key in SETTINGS:
        for prefix in ("BPFTRACE_", "PTRACE_"):
            name = prefix + key.upper()
            if name in env:
                try:
                    options = apply_setting(options, key, env[name])
                except SettingError as error:
                    raise SettingError(f"{name}: {error}") from None
                given.add(key)
    return replace(options, from_env=frozenset(given), pid_namespace=own_pid_namespace())
