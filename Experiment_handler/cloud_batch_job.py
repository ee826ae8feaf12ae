"""Google Cloud Batch jobs for a batch of experiments (``RECZILLA_BACKEND=gcloud-batch``).

The batch script (``scripts/cloud_batch.sh``) calls this module to write the job it submits
with ``gcloud batch jobs submit --config -`` and to read what ``gcloud batch jobs describe``
and ``gcloud batch tasks list`` print:

    python -m Experiment_handler.cloud_batch_job job --task-count N --parallelism P \\
        --machine-type T --provisioning SPOT|STANDARD --max-run-duration S --max-retries R \\
        --script-file F [--service-account EMAIL] [--image URI] [--env KEY=VALUE ...] [--label KEY=VALUE ...]
    python -m Experiment_handler.cloud_batch_job chunks TOTAL LIMIT   # "offset count" per job
    python -m Experiment_handler.cloud_batch_job status < describe.json
    python -m Experiment_handler.cloud_batch_job tasks < tasks.json

One task per experiment, one task per VM (``taskCountPerNode`` 1); each task runs the same
script, which picks its experiment with ``BATCH_TASK_INDEX`` (plus ``RECZILLA_TASK_OFFSET``
when a batch is split into several jobs). A task is retried, up to ``--max-retries`` times,
only when Batch reports that its VM went away (``RETRY_EXIT_CODES``: preemption and the
other VM-loss codes of Batch's troubleshooting page); an experiment's own failure fails the
task at once. Logs go to Cloud Logging.
"""

import argparse
import json
import sys

from Data_manager.cli_errors import UsageError, run_cli

#: Batch's system limits (cloud.google.com/batch/quotas): tasks per task group, parallel tasks per job.
MAX_TASKS_PER_JOB = 100_000
MAX_PARALLEL_TASKS = 5_000
#: Exit codes Batch gives a task whose VM was lost: 50001 preempted, 50002 VM reporting timeout,
#: 50003 VM rebooted, 50004 VM and task unresponsive, 50006 VM recreated (50005, the task's
#: maximum run duration, is not retried: the experiment's own time limit should have ended it).
RETRY_EXIT_CODES = (50001, 50002, 50003, 50004, 50006)
PROVISIONING_MODELS = ("SPOT", "STANDARD")
TASK_STATES = ("SUCCEEDED", "FAILED", "RUNNING", "ASSIGNED", "PENDING")


def _key_values(pairs: list[str], what: str) -> dict[str, str]:
    values = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"{what} must be KEY=VALUE, got {pair!r}")
        values[key] = value
    return values


def build_job(task_count: int, parallelism: int, script: str, machine_type: str, provisioning: str,
              max_run_duration_s: int, max_retries: int, environment: dict[str, str] | None = None,
              service_account: str = "", image: str = "", labels: dict[str, str] | None = None,
              boot_disk_gb: int = 30) -> dict:
    """The Batch API ``Job`` (as its JSON mapping) running ``script`` once per task."""
    if not 1 <= task_count <= MAX_TASKS_PER_JOB:
        raise UsageError(f"a job holds 1 to {MAX_TASKS_PER_JOB} tasks, not {task_count}: split the batch")
    if not 1 <= parallelism <= MAX_PARALLEL_TASKS:
        raise UsageError(f"parallelism must be 1 to {MAX_PARALLEL_TASKS}, not {parallelism}")
    if provisioning not in PROVISIONING_MODELS:
        raise UsageError(f"provisioning must be {' or '.join(PROVISIONING_MODELS)}, not {provisioning!r}")
    if not 0 <= max_retries <= 10:
        raise UsageError(f"max retries must be 0 to 10 (Batch's range), not {max_retries}")
    if max_run_duration_s < 1:
        raise UsageError(f"the maximum run duration must be positive, not {max_run_duration_s}")
    boot_disk = {"sizeGb": str(boot_disk_gb)}
    if image:
        boot_disk["image"] = image
    allocation = {
        "instances": [{"policy": {"machineType": machine_type, "provisioningModel": provisioning,
                                  "bootDisk": boot_disk}}],
    }
    if service_account:
        allocation["serviceAccount"] = {"email": service_account}
    if labels:
        allocation["labels"] = dict(labels)
    task_spec = {
        "runnables": [{"script": {"text": script}}],
        "maxRunDuration": f"{max_run_duration_s}s",
        "maxRetryCount": max_retries,
        "lifecyclePolicies": [{"action": "RETRY_TASK", "actionCondition": {"exitCodes": list(RETRY_EXIT_CODES)}}],
        "environment": {"variables": dict(environment or {})},
    }
    job = {
        "taskGroups": [{"taskCount": str(task_count), "parallelism": str(min(parallelism, task_count)),
                        "taskCountPerNode": "1", "taskSpec": task_spec}],
        "allocationPolicy": allocation,
        "logsPolicy": {"destination": "CLOUD_LOGGING"},
    }
    if labels:
        job["labels"] = dict(labels)
    return job


def job_chunks(total: int, limit: int = MAX_TASKS_PER_JOB) -> list[tuple[int, int]]:
    """``(offset, count)`` of each job when ``total`` tasks are split into jobs of at most ``limit``."""
    if total < 0 or not 1 <= limit <= MAX_TASKS_PER_JOB:
        raise UsageError(f"cannot split {total} tasks into jobs of {limit} (1 to {MAX_TASKS_PER_JOB})")
    return [(offset, min(limit, total - offset)) for offset in range(0, total, limit)]


def job_status(described: dict) -> tuple[str, dict[str, int]]:
    """The job's state and its task counts by state, from ``gcloud batch jobs describe --format=json``."""
    status = described.get("status") or {}
    counts = {state: 0 for state in TASK_STATES}
    for group in (status.get("taskGroups") or {}).values():
        for state, count in (group.get("counts") or {}).items():
            counts[state] = counts.get(state, 0) + int(count)
    return status.get("state", "STATE_UNSPECIFIED"), counts


def task_states(tasks: list) -> list[tuple[int, str]]:
    """``(task index, state)`` from ``gcloud batch tasks list --format=json``; a task's name ends with its index."""
    states = []
    for task in tasks:
        index = task["name"].rsplit("/", 1)[-1]
        if not index.isdigit():
            raise ValueError(f"task name {task['name']!r} does not end with its index")
        states.append((int(index), (task.get("status") or {}).get("state", "STATE_UNSPECIFIED")))
    return sorted(states)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m Experiment_handler.cloud_batch_job",
                                     description="Write Cloud Batch jobs for a batch of experiments, read their status.")
    commands = parser.add_subparsers(dest="command", required=True)
    job = commands.add_parser("job", help="print the job JSON")
    job.add_argument("--task-count", type=int, required=True)
    job.add_argument("--parallelism", type=int, required=True)
    job.add_argument("--machine-type", required=True)
    job.add_argument("--provisioning", required=True, choices=PROVISIONING_MODELS)
    job.add_argument("--max-run-duration", type=int, required=True, help="seconds")
    job.add_argument("--max-retries", type=int, required=True)
    job.add_argument("--script-file", required=True, help="the script each task runs")
    job.add_argument("--service-account", default="")
    job.add_argument("--image", default="", help="boot disk image (default: Batch's)")
    job.add_argument("--boot-disk-gb", type=int, default=30)
    job.add_argument("--env", action="append", default=[], help="KEY=VALUE for every task")
    job.add_argument("--label", action="append", default=[], help="KEY=VALUE label of the job and its VMs")
    chunks = commands.add_parser("chunks", help="print 'offset count' of each job of a split batch")
    chunks.add_argument("total", type=int)
    chunks.add_argument("limit", type=int)
    commands.add_parser("status", help="read describe JSON on stdin, print 'STATE SUCCEEDED FAILED RUNNING ASSIGNED PENDING'")
    commands.add_parser("tasks", help="read tasks-list JSON on stdin, print 'index state' lines")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "job":
        with open(args.script_file, encoding="utf-8") as handle:
            script = handle.read()
        job = build_job(args.task_count, args.parallelism, script, args.machine_type, args.provisioning,
                        args.max_run_duration, args.max_retries, _key_values(args.env, "--env"),
                        args.service_account, args.image, _key_values(args.label, "--label"), args.boot_disk_gb)
        print(json.dumps(job, indent=2))
    elif args.command == "chunks":
        for offset, count in job_chunks(args.total, args.limit):
            print(offset, count)
    elif args.command == "status":
        state, counts = job_status(json.load(sys.stdin))
        print(state, *(counts[name] for name in TASK_STATES))
    else:
        for index, state in task_states(json.load(sys.stdin)):
            print(index, state)
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
