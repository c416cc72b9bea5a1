"""ptrace: a bpftrace-compatible tracing language for Linux, in Python."""

__version__ = "0.1.0"
