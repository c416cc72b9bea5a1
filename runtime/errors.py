"""Failures the runtime reports to the user as one sentence (exit status 1)."""


class RuntimeFailure(Exception):
    """Something the machine refused: loading, attaching, reading a map."""
