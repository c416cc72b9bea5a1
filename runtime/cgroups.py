"""cgroup_path(): the paths of a cgroup id in the mounted cgroup hierarchies.

A cgroup's id is the inode number of its directory in cgroupfs. Each mounted
hierarchy is named as bpftrace names it (`unified` for cgroup2, the
controllers or `name=` of a v1 hierarchy), and the id is looked up in a table
of the hierarchy's directories by inode, built on first use and rebuilt when
an id is not found (cgroups come and go), at most once a second.
"""

from __future__ import annotations

import fnmatch
import os
import time
from dataclasses import dataclass, field

REBUILD_INTERVAL_S = 1.0


@dataclass
class Hierarchy:
    name: str
    root: str  # where it is mounted
    paths: dict[int, str] = field(default_factory=dict)  # inode → path within it
    built: float = -REBUILD_INTERVAL_S

    def path_of(self, cgroup_id: int) -> str | None:
        found = self.paths.get(cgroup_id)
        if found is None and time.monotonic() - self.built >= REBUILD_INTERVAL_S:
            self.paths = _directories(self.root)
            self.built = time.monotonic()
            found = self.paths.get(cgroup_id)
        return found


def _directories(root: str) -> dict[int, str]:
    """Every directory under `root` by inode, as a path from the root ("/", "/a/b")."""
    found: dict[int, str] = {}
    pending = [(root, "/")]
    while pending:
        directory, path = pending.pop()
        try:
            found.setdefault(os.stat(directory).st_ino, path)
            entries = list(os.scandir(directory))
        except OSError:
            continue  # removed while we looked, or not ours to read
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                pending.append((entry.path, path.rstrip("/") + "/" + entry.name))
    return found


def _controllers() -> set[str]:
    try:
        with open("/proc/cgroups") as f:
            return {line.split()[0] for line in f if line.strip() and not line.startswith("#")}
    except OSError:
        return set()


def hierarchies(mountinfo: str = "/proc/self/mountinfo") -> list[Hierarchy]:
    """The mounted cgroup hierarchies: cgroup2 first, then v1 by name."""
    controllers = _controllers()
    unified: list[Hierarchy] = []
    v1: dict[str, Hierarchy] = {}
    try:
        with open(mountinfo) as f:
            lines = f.read().splitlines()
    except OSError:
        return []
    for line in lines:
        fields, _, tail = line.partition(" - ")
        parts, rest = fields.split(), tail.split()
        if len(parts) < 5 or len(rest) < 3:
            continue
        mount_point = parts[4].replace("\\040", " ")
        if rest[0] == "cgroup2" and not unified:
            unified.append(Hierarchy("unified", mount_point))
        elif rest[0] == "cgroup":
            options = rest[2].split(",")
            names = [o for o in options if o in controllers]
            names += [o[5:] for o in options if o.startswith("name=")]
            if names:
                v1.setdefault(",".join(names), Hierarchy(",".join(names), mount_point))
    return unified + [v1[name] for name in sorted(v1)]


class CgroupPaths:
    """Names cgroup ids for cgroup_path(): `unified:/a/b,memory:/a`."""

    def __init__(self) -> None:
        self._hierarchies: list[Hierarchy] | None = None

    def describe(self, cgroup_id: int, pattern: str = "*") -> str:
        if self._hierarchies is None:
            self._hierarchies = hierarchies()
        named = []
        for hierarchy in self._hierarchies:
            if not fnmatch.fnmatchcase(hierarchy.name, pattern):
                continue
            path = hierarchy.path_of(cgroup_id)
            if path is not None:
                named.append(f"{hierarchy.name}:{path}")
        return ",".join(named)


CGROUPS = CgroupPaths()
