"""The CPUs and memory this process may use: its CPU affinity, cgroup (v1 and v2) limits, physical RAM.

Containers, Slurm jobs and cloud batch VMs run processes under cgroup limits that
``os.cpu_count()`` and the physical RAM do not show: a process that sizes its thread
pools or memory budget from them oversubscribes its share or is killed by the OOM
killer. Here:

- CPUs = the CPUs of the process's affinity mask (``taskset``, a cpuset), capped by the
  cgroup's CPU quota (v2 ``cpu.max``, v1 ``cpu.cfs_quota_us / cpu.cfs_period_us``,
  rounded up), at least 1;
- memory = the physical RAM, capped by the cgroup's memory limit (v2 ``memory.max``,
  v1 ``memory.limit_in_bytes``).

A limit applies from the process's own cgroup and from every cgroup above it (within the
mounted hierarchy), so the smallest one counts. Cgroup folders are found from
``/proc/self/cgroup`` and ``/proc/self/mountinfo`` (so a container's own view, whose
mount root is its cgroup, is read right); the folder holding both files is a parameter,
for tests. Unreadable or missing files mean no limit.

``python -m Data_manager.machine_resources`` prints ``CPUS MEMORY_BYTES MEMORY_BUDGET_BYTES``
on one line (the budget: ``DEFAULT_MEMORY_FRACTION`` of the memory, the default of
``RECZILLA_MEMORY_LIMIT``); the batch scripts divide them among parallel experiments.
"""

import math
import os
import re
import sys
from pathlib import Path

PROC_SELF = Path("/proc/self")

#: Share of the available memory that one process may plan to use (the default memory budget).
DEFAULT_MEMORY_FRACTION = 0.8

_V1_NO_LIMIT = 1 << 60  # cgroup v1 writes "no limit" as a page-rounded 2**63 - 1


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except (OSError, UnicodeDecodeError):
        return None


def _unescape(field: str) -> str:
    """A mountinfo path field with its octal escapes (``\\040`` for a space) decoded."""
    return re.sub(r"\\([0-7]{3})", lambda match: chr(int(match.group(1), 8)), field)


def _memberships(proc_self: Path) -> dict[str, str]:
    """Controller name -> the process's cgroup path (``""`` for the cgroup v2 hierarchy)."""
    memberships = {}
    for line in (_read(proc_self / "cgroup") or "").splitlines():
        parts = line.split(":", 2)
        if len(parts) == 3:
            for controller in parts[1].split(",") if parts[1] else [""]:
                memberships[controller] = parts[2]
    return memberships


def _cgroup_folders(controller: str, proc_self: Path) -> list[tuple[int, Path]]:
    """``(version, folder)`` of the process's cgroup and of each one above it, for ``controller``."""
    memberships = _memberships(proc_self)
    folders = []
    for line in (_read(proc_self / "mountinfo") or "").splitlines():
        fields = line.split()
        if "-" not in fields or len(fields) < 5:
            continue
        separator = fields.index("-")
        fstype, options = fields[separator + 1], fields[separator + 3].split(",") if len(fields) > separator + 3 else []
        if fstype == "cgroup2":
            version, path = 2, memberships.get("")
        elif fstype == "cgroup" and controller in options:
            version, path = 1, memberships.get(controller)
        else:
            continue
        if path is None:
            continue
        root, mount_point = _unescape(fields[3]), Path(_unescape(fields[4]))
        relative = os.path.relpath(path, root)
        folder = mount_point if relative.startswith("..") else mount_point / relative
        while True:
            folders.append((version, folder))
            if folder == mount_point or mount_point not in folder.parents:
                break
            folder = folder.parent
    return folders


def cgroup_memory_limit(proc_self: Path | None = None) -> int | None:
    """The smallest memory limit (bytes) of the process's cgroups, or ``None`` when there is none."""
    limits = []
    for version, folder in _cgroup_folders("memory", proc_self or PROC_SELF):
        text = _read(folder / ("memory.max" if version == 2 else "memory.limit_in_bytes"))
        if text and text.isdigit() and int(text) < _V1_NO_LIMIT:
            limits.append(int(text))
    return min(limits, default=None)


def cgroup_cpu_limit(proc_self: Path | None = None) -> float | None:
    """The smallest CPU quota (in CPUs, e.g. 1.5) of the process's cgroups, or ``None`` when there is none."""
    limits = []
    for version, folder in _cgroup_folders("cpu", proc_self or PROC_SELF):
        if version == 2:
            quota, _, period = (_read(folder / "cpu.max") or "").partition(" ")
        else:
            quota, period = _read(folder / "cpu.cfs_quota_us") or "", _read(folder / "cpu.cfs_period_us") or ""
        if quota.isdigit() and period.isdigit() and int(quota) > 0 and int(period) > 0:
            limits.append(int(quota) / int(period))
    return min(limits, default=None)


def physical_memory_bytes() -> int:
    """The machine's physical RAM."""
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def available_cpus(proc_self: Path | None = None) -> int:
    """CPUs this process may use: its affinity mask, capped by the cgroup CPU quota (rounded up); at least 1."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # no affinity on this platform
        cpus = os.cpu_count() or 1
    quota = cgroup_cpu_limit(proc_self)
    if quota is not None:
        cpus = min(cpus, math.ceil(quota))
    return max(1, cpus)


def available_memory_bytes(proc_self: Path | None = None) -> int:
    """Memory this process may use: the physical RAM, capped by the cgroup memory limit."""
    limit = cgroup_memory_limit(proc_self)
    physical = physical_memory_bytes()
    return physical if limit is None else min(physical, limit)


def default_memory_budget(proc_self: Path | None = None) -> int:
    """``DEFAULT_MEMORY_FRACTION`` of :func:`available_memory_bytes` (the default of ``RECZILLA_MEMORY_LIMIT``)."""
    return int(DEFAULT_MEMORY_FRACTION * available_memory_bytes(proc_self))


def main() -> int:
    print(available_cpus(), available_memory_bytes(), default_memory_budget())
    return 0


if __name__ == "__main__":
    sys.exit(main())
