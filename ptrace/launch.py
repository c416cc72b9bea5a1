"""The `ptrace` command's entry point, light on purpose: it imports nothing but
`signal` (and `gc`, `os`, `sys`, loaded with Python) before it has said what
an early signal does. `ptrace -l PATTERN` alone goes to the listing without
the option parser (ptrace.cli_probes.listing_entry): it starts in less time
than bpftrace's.

Python turns SIGINT into KeyboardInterrupt, which while the command is still
importing its modules (the first tens of milliseconds) would print a
traceback. Until a run installs its own stop handlers (runtime/session.py)
or the prompt starts, SIGINT ends ptrace at once and quietly, as it ends any
Unix program: nothing is in the kernel yet, and a -c command held before its
exec sees its pipe close and exits. SIGTERM and SIGHUP do so already. A
signal that was ignored when ptrace started stays ignored.

The interpreter's own start-up comes before this module: the `ptrace`
command that scripts/setup installs starts Python with SIGINT, SIGTERM and
SIGHUP blocked, so that a signal sent then waits, pending, until `entry`
has set what it does and unblocks them (unblocked, too, for every process
ptrace starts). `python -m ptrace` has no such launcher: there a signal
before ptrace's first line is the interpreter's.
"""

import gc
import os
import signal
import sys

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def entry() -> None:
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
    _name_the_process()
    # Importing makes objects that live as long as the process: collecting them
    # is start-up time spent for nothing. A run or the prompt collects again
    # (ptrace/cli.py, start_collecting).
    gc.disable()
    if _plain_listing(sys.argv[1:]):
        from ptrace.cli_probes import listing_entry as run
    else:
        from ptrace import class_code

        class_code.use()
        from ptrace.cli import entry as run
    try:
        run()
    except SystemExit as done:
        _exit(done)


def _exit(done: SystemExit) -> None:
    """End the process with the command's status, without Python's finalization
    where nothing needs it (freeing every object and module one by one: ~30 ms,
    a fifth of a run from the compile cache on a loaded machine): the exit
    handlers run, both standard streams are flushed, then os._exit. Where
    another thread still runs (which the interpreter would wait for), the
    status is not a number, or flushing fails, Python ends as usual."""
    import atexit

    code = 0 if done.code is None else done.code
    threading = sys.modules.get("threading")  # (not imported: no other thread)
    if not isinstance(code, int) or (threading is not None and threading.active_count() > 1):
        raise done
    atexit._run_exitfuncs()
    atexit._clear()  # (run once: a failed flush below ends as usual, handlers done)
    try:
        for stream in (sys.stdout, sys.stderr):
            if stream is not None:
                stream.flush()
    except (OSError, ValueError):
        raise done from None
    os._exit(code & 0xFF)


def _name_the_process() -> None:
    """The process is named as the command was (its comm, as ps, top and a
    probe's `comm` show it: `ptrace`, or a link's name), as the kernel names a
    program it runs, however the command started Python: the launcher's env,
    then the interpreter, would otherwise leave it named `python`."""
    name = os.path.basename(sys.argv[0])
    if not name or name.endswith((".py", "__main__")):
        return  # (python -m ptrace, a script: the interpreter's name stays)
    try:
        with open("/proc/self/comm", "w") as comm:
            comm.write(name[:15])
    except OSError:
        pass  # (no /proc: the name stays the interpreter's)


def _plain_listing(argv: list[str]) -> bool:
    """`ptrace -l` or `ptrace -l PATTERN` (not a file's name): a listing, which
    needs neither the option parser nor the compiler."""
    pattern = argv[1] if len(argv) == 2 else ""
    return argv[:1] == ["-l"] and len(argv) <= 2 and not pattern.startswith("-") \
        and not os.path.isfile(pattern)
