"""cgroup_path()'s naming of cgroup ids: hierarchies from mountinfo, ids by inode."""

from __future__ import annotations

import os
from pathlib import Path

from ptrace.runtime import cgroups
from ptrace.runtime.cgroups import CgroupPaths, Hierarchy


def test_hierarchies_are_named_as_bpftrace_names_them(tmp_path: Path) -> None:
    mountinfo = tmp_path / "mountinfo"
    mountinfo.write_text(
        "30 25 0:26 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
        "31 25 0:27 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd\n"
        "32 25 0:28 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate\n"
        "33 25 0:29 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n"
        "34 25 0:30 / /proc rw - proc proc rw\n")
    found = [(h.name, h.root) for h in cgroups.hierarchies(str(mountinfo))]
    assert found == [("unified", "/sys/fs/cgroup/unified"),
                     ("cpu,cpuacct", "/sys/fs/cgroup/cpu,cpuacct"),
                     ("memory", "/sys/fs/cgroup/memory"),
                     ("systemd", "/sys/fs/cgroup/systemd")]


def test_ids_are_directory_inodes_found_again_after_they_appear(tmp_path: Path) -> None:
    v2, v1 = tmp_path / "v2", tmp_path / "v1"
    (v2 / "a" / "b").mkdir(parents=True)
    (v1 / "a").mkdir(parents=True)
    names = CgroupPaths()
    names._hierarchies = [Hierarchy("unified", str(v2)), Hierarchy("memory", str(v1))]
    assert names.describe(os.stat(v2).st_ino) == "unified:/"
    assert names.describe(os.stat(v2 / "a" / "b").st_ino) == "unified:/a/b"
    assert names.describe(os.stat(v1 / "a").st_ino, "mem*") == "memory:/a"
    assert names.describe(os.stat(v1 / "a").st_ino, "unified") == ""
    (v2 / "late").mkdir()
    for hierarchy in names._hierarchies:  # as if a second had passed
        hierarchy.built -= cgroups.REBUILD_INTERVAL_S
    assert names.describe(os.stat(v2 / "late").st_ino) == "unified:/late"
