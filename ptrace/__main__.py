from ptrace.launch import entry

entry()
