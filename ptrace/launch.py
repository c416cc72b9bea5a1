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
signal that was ignored when ptrace started stays ignored. (What comes
before this module, the interpreter's own start-up, is out of its reach.)
"""

import gc
import os
import signal
import sys


def entry() -> None:
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
    # Importing makes objects that live as long as the process: collecting them
    # is start-up time spent for nothing. A run or the prompt collects again
    # (ptrace/cli.py, start_collecting).
    gc.disable()
    if _plain_listing(sys.argv[1:]):
        from ptrace.cli_probes import listing_entry as run
    else:
        from ptrace.cli import entry as run
    run()


def _plain_listing(argv: list[str]) -> bool:
    """`ptrace -l` or `ptrace -l PATTERN` (not a file's name): a listing, which
    needs neither the option parser nor the compiler."""
    pattern = argv[1] if len(argv) == 2 else ""
    return argv[:1] == ["-l"] and len(argv) <= 2 and not pattern.startswith("-") \
        and not os.path.isfile(pattern)
