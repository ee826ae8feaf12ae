"""CPU and memory detection: affinity, cgroup v1/v2 limits (fake /proc/self and cgroup trees), and the defaults that use it."""

import os
import subprocess
import sys

import pytest

from Data_manager import machine_resources
from Data_manager.machine_resources import (
    available_cpus,
    available_memory_bytes,
    cgroup_cpu_limit,
    cgroup_memory_limit,
    default_memory_budget,
    physical_memory_bytes,
)
from Recommenders.memory import memory_limit_bytes
from Recommenders.threads import configured_threads

GiB = 1 << 30
V1_UNLIMITED = "9223372036854771712"


def _proc_self(tmp_path, cgroup: str, mounts: list[tuple[str, str, str, str]]):
    """A fake /proc/self: ``cgroup`` as its cgroup file, ``mounts`` = (root, mount point, fstype, options)."""
    proc = tmp_path / "proc_self"
    proc.mkdir()
    (proc / "cgroup").write_text(cgroup)
    (proc / "mountinfo").write_text("".join(
        f"{30 + n} 23 0:{28 + n} {root} {point} rw,relatime - {fstype} {fstype} {options}\n"
        for n, (root, point, fstype, options) in enumerate(mounts)
    ) + "22 1 8:1 / / rw,relatime - ext4 /dev/sda1 rw\n")
    return proc


def _write(folder, **files):
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name.replace("_", ".", 1)).write_text(text + "\n")


def test_cgroup_v2_limits_of_the_cgroup_and_its_parents(tmp_path):
    mount = tmp_path / "cg2"
    proc = _proc_self(tmp_path, "0::/batch/task7\n", [("/", str(mount), "cgroup2", "rw")])
    _write(mount, memory_max="max", cpu_max="max 100000")  # the root: no limit
    _write(mount / "batch", memory_max=str(3 * GiB), cpu_max="max 100000")
    _write(mount / "batch" / "task7", memory_max=str(5 * GiB), cpu_max="150000 100000")
    assert cgroup_memory_limit(proc) == 3 * GiB  # the parent's limit is the smaller one
    assert cgroup_cpu_limit(proc) == 1.5
    assert available_memory_bytes(proc) == min(3 * GiB, physical_memory_bytes())
    assert default_memory_budget(proc) == int(0.8 * available_memory_bytes(proc))
    assert available_cpus(proc) == min(2, len(os.sched_getaffinity(0)))  # 1.5 CPUs: two threads


def test_cgroup_v2_without_limits(tmp_path):
    mount = tmp_path / "cg2"
    proc = _proc_self(tmp_path, "0::/\n", [("/", str(mount), "cgroup2", "rw")])
    _write(mount, memory_max="max", cpu_max="max 100000")
    assert cgroup_memory_limit(proc) is None and cgroup_cpu_limit(proc) is None
    assert available_memory_bytes(proc) == physical_memory_bytes()
    assert available_cpus(proc) == len(os.sched_getaffinity(0))


def test_cgroup_v1_host_view_and_container_view(tmp_path):
    memory, cpu = tmp_path / "memory", tmp_path / "cpu,cpuacct"
    cgroup = "12:memory:/docker/abc\n4:cpu,cpuacct:/docker/abc\n1:name=systemd:/docker/abc\n0::/\n"
    host = _proc_self(tmp_path, cgroup, [
        ("/", str(memory), "cgroup", "rw,memory"), ("/", str(cpu), "cgroup", "rw,cpu,cpuacct"),
    ])
    _write(memory, memory_limit_in_bytes=V1_UNLIMITED)
    _write(memory / "docker" / "abc", memory_limit_in_bytes=str(2 * GiB))
    _write(cpu, cpu_cfs_quota_us="-1", cpu_cfs_period_us="100000")
    _write(cpu / "docker" / "abc", cpu_cfs_quota_us="50000", cpu_cfs_period_us="100000")
    assert cgroup_memory_limit(host) == 2 * GiB and cgroup_cpu_limit(host) == 0.5
    assert available_cpus(host) == 1

    # inside the container, the hierarchy is mounted at its own cgroup (mount root /docker/abc)
    inside = tmp_path / "inside"
    inside.mkdir()
    container = _proc_self(inside, cgroup, [
        ("/docker/abc", str(inside / "memory"), "cgroup", "rw,memory"),
        ("/docker/abc", str(inside / "cpu"), "cgroup", "rw,cpu,cpuacct"),
    ])
    _write(inside / "memory", memory_limit_in_bytes=str(GiB))
    _write(inside / "cpu", cpu_cfs_quota_us="-1", cpu_cfs_period_us="100000")
    assert cgroup_memory_limit(container) == GiB and cgroup_cpu_limit(container) is None


def test_missing_or_unreadable_files_mean_no_limit(tmp_path):
    assert cgroup_memory_limit(tmp_path / "nothing") is None and cgroup_cpu_limit(tmp_path / "nothing") is None
    mount = tmp_path / "cg2"
    proc = _proc_self(tmp_path, "0::/gone\n", [("/", str(mount), "cgroup2", "rw")])
    _write(mount / "gone", memory_max="garbage", cpu_max="0 0")
    assert cgroup_memory_limit(proc) is None and cgroup_cpu_limit(proc) is None


def test_defaults_of_the_memory_budget_and_threads_honour_the_cgroup(tmp_path, monkeypatch):
    mount = tmp_path / "cg2"
    proc = _proc_self(tmp_path, "0::/job\n", [("/", str(mount), "cgroup2", "rw")])
    _write(mount / "job", memory_max=str(GiB), cpu_max="100000 100000")
    monkeypatch.setattr(machine_resources, "PROC_SELF", proc)
    monkeypatch.delenv("RECZILLA_MEMORY_LIMIT", raising=False)
    monkeypatch.delenv("RECZILLA_THREADS", raising=False)
    assert memory_limit_bytes() == int(0.8 * GiB)
    assert configured_threads() == 1


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="CPU affinity is Linux-only")
def test_cpu_affinity_caps_the_cpus_and_the_threads():
    code = ("import os; os.sched_setaffinity(0, {min(os.sched_getaffinity(0))}); "
            "from Data_manager.machine_resources import available_cpus; from Recommenders.threads import "
            "configured_threads; print(available_cpus(), configured_threads())")
    env = {key: value for key, value in os.environ.items() if key != "RECZILLA_THREADS"}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert result.stdout.split() == ["1", "1"]


def test_command_line_prints_cpus_memory_and_budget():
    result = subprocess.run([sys.executable, "-m", "Data_manager.machine_resources"], capture_output=True, text=True,
                            check=True)
    cpus, memory, budget = map(int, result.stdout.split())
    assert (cpus, memory, budget) == (available_cpus(), available_memory_bytes(), default_memory_budget())
