#!/usr/bin/env python3
"""The stand-in gcloud's `gcloud batch ...`: a fake Cloud Batch service on this machine.

    fake_batch.py jobs submit NAME --location=L --project=P --config=-   (job JSON on stdin)
    fake_batch.py jobs describe NAME ... --format=json
    fake_batch.py jobs delete NAME ... --quiet
    fake_batch.py tasks list --job=NAME ... --format=json

Jobs live in $FAKE_BATCH (default $FAKE_GCS/.batch). A submitted job is run by a detached
runner: every task runs the job's script with bash, the job's environment variables,
BATCH_TASK_INDEX, BATCH_TASK_COUNT and BATCH_TASK_RETRY_ATTEMPT, at most `parallelism` at once.
A failed task is retried, up to maxRetryCount times, when its exit code is one of the
RETRY_TASK lifecycle policy's (as Batch does); otherwise it fails.
  STUB_PREEMPT_TASK=I, STUB_PREEMPT_WHEN=COMMAND: the first attempt of task I is killed (kill -9
    of its process group, like a VM that disappears) once the shell command COMMAND succeeds
    (tried every 0.3 s); it exits 50001 (preempted).
    Before the retry the folder STUB_VM_DISK is emptied (the new VM has a fresh disk).
  STUB_BATCH_RUN=0: nothing runs; describe prints the states of STUB_BATCH_STATES one call after
    the other (the last one stays), and the tasks are STUB_BATCH_TASK_STATES (one state each).
  STUB_FAIL_SUBMIT=1: submit fails.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(os.environ.get("FAKE_BATCH") or Path(os.environ["FAKE_GCS"]) / ".batch")


def option(args, name):
    for arg in args:
        if arg.startswith(f"--{name}="):
            return arg.split("=", 1)[1]
    return None


def job_dir(name):
    return ROOT / name


def write_json(path, value):
    temp = path.with_suffix(".tmp")
    temp.write_text(json.dumps(value))
    temp.replace(path)


def read_json(path, default=None):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return default


def submit(name, args):
    if os.environ.get("STUB_FAIL_SUBMIT") == "1":
        sys.exit("ERROR: (gcloud.batch.jobs.submit) submit failed on purpose")
    job = json.loads(sys.stdin.read())
    folder = job_dir(name)
    if folder.exists():
        sys.exit(f"ERROR: (gcloud.batch.jobs.submit) job {name} already exists")
    folder.mkdir(parents=True)
    write_json(folder / "job.json", job)
    count = int(job["taskGroups"][0]["taskCount"])
    write_json(folder / "state.json", {"state": "QUEUED", "tasks": ["PENDING"] * count})
    (folder / "where").write_text(f"projects/{option(args, 'project')}/locations/{option(args, 'location')}")
    if os.environ.get("STUB_BATCH_RUN", "1") == "1":
        log = open(folder / "runner.log", "w")
        runner = subprocess.Popen([sys.executable, __file__, "run", name], stdout=log, stderr=log,
                                  stdin=subprocess.DEVNULL, start_new_session=True)
        (folder / "runner.pid").write_text(str(runner.pid))
    print(f"Job {name} was successfully submitted.", file=sys.stderr)


def run(name):
    folder = job_dir(name)
    job = read_json(folder / "job.json")
    group = job["taskGroups"][0]
    spec = group["taskSpec"]
    count, parallelism = int(group["taskCount"]), int(group.get("parallelism", group["taskCount"]))
    max_retries = int(spec.get("maxRetryCount", 0))
    retry_codes = set()
    for policy in spec.get("lifecyclePolicies", []):
        if policy["action"] == "RETRY_TASK":
            retry_codes |= set(policy["actionCondition"]["exitCodes"])
    script = spec["runnables"][0]["script"]["text"]
    variables = spec.get("environment", {}).get("variables", {})
    states = ["PENDING"] * count
    attempts = [0] * count
    running = {}  # index -> Popen

    def save(job_state):
        write_json(folder / "state.json", {"state": job_state, "tasks": states})
        (folder / "pids").write_text(" ".join(str(p.pid) for p in running.values()))

    def start(index):
        env = dict(os.environ, **variables, BATCH_TASK_INDEX=str(index), BATCH_TASK_COUNT=str(count),
                   BATCH_TASK_RETRY_ATTEMPT=str(attempts[index]))
        log = open(folder / f"task-{index}.attempt{attempts[index]}.log", "w")
        running[index] = subprocess.Popen(["bash", "-c", script], env=env, stdout=log, stderr=log,
                                          stdin=subprocess.DEVNULL, start_new_session=True)
        states[index] = "RUNNING"

    pending = list(range(count))
    preempt = os.environ.get("STUB_PREEMPT_TASK")
    next_check = 0.0
    save("RUNNING")
    while pending or running:
        while pending and len(running) < parallelism:
            start(pending.pop(0))
            save("RUNNING")
        time.sleep(0.1)
        for index, process in list(running.items()):
            if (preempt == str(index) and attempts[index] == 0 and process.poll() is None
                    and time.monotonic() >= next_check):
                next_check = time.monotonic() + 0.3
                if subprocess.run(["bash", "-c", os.environ["STUB_PREEMPT_WHEN"]]).returncode != 0:
                    continue
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
                process.returncode = 50001
                (folder / "preempted").write_text(str(index))
            code = process.poll()
            if code is None:
                continue
            del running[index]
            if code == 0:
                states[index] = "SUCCEEDED"
            elif code in retry_codes and attempts[index] < max_retries:
                attempts[index] += 1
                disk = os.environ.get("STUB_VM_DISK")
                if disk:
                    subprocess.run(["rm", "-rf", disk])
                pending.insert(0, index)
                states[index] = "PENDING"
            else:
                states[index] = "FAILED"
            save("RUNNING")
    save("SUCCEEDED" if all(state == "SUCCEEDED" for state in states) else "FAILED")


def scripted_states(folder):
    """STUB_BATCH_RUN=0: the next of STUB_BATCH_STATES, and STUB_BATCH_TASK_STATES."""
    calls_file = folder / "describe_calls"
    calls = int(calls_file.read_text()) if calls_file.exists() else 0
    calls_file.write_text(str(calls + 1))
    job_states = os.environ.get("STUB_BATCH_STATES", "SUCCEEDED").split()
    return job_states[min(calls, len(job_states) - 1)], os.environ.get("STUB_BATCH_TASK_STATES", "").split()


def describe(name):
    folder = job_dir(name)
    if not folder.exists():
        sys.exit(f"ERROR: (gcloud.batch.jobs.describe) NOT_FOUND: job {name}")
    state = read_json(folder / "state.json")
    job_state, tasks = state["state"], state["tasks"]
    if os.environ.get("STUB_BATCH_RUN", "1") != "1" and job_state != "DELETION_IN_PROGRESS":
        job_state, scripted = scripted_states(folder)
        tasks = scripted[:len(tasks)]
        if job_state in ("QUEUED", "SCHEDULED"):
            tasks = ["PENDING"] * len(tasks)
        elif job_state == "RUNNING":
            tasks = ["RUNNING" if t == "FAILED" else t for t in tasks]
    counts = {}
    for task in tasks:
        counts[task] = str(int(counts.get(task, 0)) + 1)
    where = (folder / "where").read_text()
    print(json.dumps({"name": f"{where}/jobs/{name}", **read_json(folder / "job.json"),
                      "status": {"state": job_state, "taskGroups": {"group0": {"counts": counts}}}}))


def delete(name):
    folder = job_dir(name)
    if not folder.exists():
        sys.exit(f"ERROR: (gcloud.batch.jobs.delete) NOT_FOUND: job {name}")
    for pid_file in ("runner.pid", "pids"):
        for pid in (folder / pid_file).read_text().split() if (folder / pid_file).exists() else []:
            try:
                os.killpg(int(pid), signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
    state = read_json(folder / "state.json")
    write_json(folder / "state.json", {"state": "DELETION_IN_PROGRESS", "tasks": state["tasks"]})


def list_tasks(name):
    folder = job_dir(name)
    tasks = read_json(folder / "state.json")["tasks"]
    if os.environ.get("STUB_BATCH_RUN", "1") != "1":
        tasks = os.environ.get("STUB_BATCH_TASK_STATES", "").split()[:len(tasks)]
    where = (folder / "where").read_text()
    print(json.dumps([{"name": f"{where}/jobs/{name}/taskGroups/group0/tasks/{index}", "status": {"state": state}}
                      for index, state in enumerate(tasks)]))


def main(argv):
    if argv[0] == "run":
        return run(argv[1])
    command = " ".join(argv[:2])
    if command == "jobs submit":
        submit(argv[2], argv[3:])
    elif command == "jobs describe":
        describe(argv[2])
    elif command == "jobs delete":
        delete(argv[2])
    elif command == "tasks list":
        list_tasks(option(argv, "job"))
    else:
        sys.exit(f"fake batch: unknown command {' '.join(argv)}")


if __name__ == "__main__":
    main(sys.argv[1:])
