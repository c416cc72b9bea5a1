from ptrace.cli import entry

entry()
