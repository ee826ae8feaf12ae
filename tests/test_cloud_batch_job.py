"""The Cloud Batch job JSON, checked against the Batch API's own message types (google-cloud-batch).

``json_format.Parse`` into ``google.cloud.batch_v1.Job`` rejects unknown or misspelled fields
and values of the wrong type, as the service would. Jobs come from the module and from the
batch script itself (``DRY_RUN=1``) for several batch sizes, spot and standard, and a batch
split into several jobs.
"""

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
from google.cloud import batch_v1
from google.protobuf import json_format

from Data_manager.cli_errors import UsageError
from Experiment_handler.cloud_batch_job import (
    MAX_TASKS_PER_JOB, RETRY_EXIT_CODES, build_job, job_chunks, job_status, task_states,
)

REPO = Path(__file__).resolve().parents[1]


def parse_job(text: str) -> batch_v1.Job:
    message = batch_v1.Job.pb(batch_v1.Job())
    json_format.Parse(text, message)
    return batch_v1.Job.wrap(message)


@pytest.mark.parametrize("task_count, provisioning", [(1, "SPOT"), (7, "STANDARD"), (MAX_TASKS_PER_JOB, "SPOT")])
def test_module_jobs_parse_as_batch_v1_jobs(task_count, provisioning):
    job = build_job(task_count, 10, "#!/bin/bash\necho hi\n", "n1-highmem-2", provisioning, 3900, 3,
                    {"RECZILLA_TASK_OFFSET": "0"}, service_account="sa@p.iam.gserviceaccount.com",
                    image="projects/debian-cloud/global/images/family/debian-12", labels={"reczilla-batch": "x"})
    parsed = parse_job(json.dumps(job))
    group = parsed.task_groups[0]
    assert group.task_count == task_count and group.parallelism == min(10, task_count)
    assert group.task_count_per_node == 1
    spec = group.task_spec
    assert spec.max_run_duration.total_seconds() == 3900 and spec.max_retry_count == 3
    assert list(spec.lifecycle_policies[0].action_condition.exit_codes) == list(RETRY_EXIT_CODES)
    assert spec.lifecycle_policies[0].action == batch_v1.LifecyclePolicy.Action.RETRY_TASK
    assert spec.environment.variables["RECZILLA_TASK_OFFSET"] == "0"
    policy = parsed.allocation_policy.instances[0].policy
    assert policy.machine_type == "n1-highmem-2"
    assert policy.provisioning_model == batch_v1.AllocationPolicy.ProvisioningModel[provisioning]
    assert parsed.allocation_policy.service_account.email == "sa@p.iam.gserviceaccount.com"
    assert parsed.logs_policy.destination == batch_v1.LogsPolicy.Destination.CLOUD_LOGGING


def test_the_parser_rejects_what_the_service_would():
    job = build_job(2, 2, "true", "n1-highmem-2", "SPOT", 60, 0)
    job["taskGroups"][0]["taskCout"] = "2"  # misspelled field
    with pytest.raises(json_format.ParseError, match="taskCout"):
        parse_job(json.dumps(job))
    job = build_job(2, 2, "true", "n1-highmem-2", "SPOT", 60, 0)
    job["allocationPolicy"]["instances"][0]["policy"]["provisioningModel"] = "CHEAP"
    with pytest.raises(json_format.ParseError):
        parse_job(json.dumps(job))


def test_no_service_account_unless_given_and_bad_values_refused():
    assert "serviceAccount" not in build_job(1, 1, "true", "m", "SPOT", 60, 0)["allocationPolicy"]
    for kwargs, message in (({"task_count": MAX_TASKS_PER_JOB + 1}, "split the batch"),
                            ({"parallelism": 5001}, "parallelism"), ({"provisioning": "spot"}, "provisioning"),
                            ({"max_retries": 11}, "max retries"), ({"max_run_duration_s": 0}, "duration")):
        args = {"task_count": 1, "parallelism": 1, "script": "true", "machine_type": "m", "provisioning": "SPOT",
                "max_run_duration_s": 60, "max_retries": 0, **kwargs}
        with pytest.raises(UsageError, match=message):
            build_job(**args)


def test_job_chunks_cover_every_task_once():
    assert job_chunks(0, 5) == []
    assert job_chunks(5, 5) == [(0, 5)]
    assert job_chunks(11, 5) == [(0, 5), (5, 5), (10, 1)]
    chunks = job_chunks(250_001)
    assert chunks == [(0, 100_000), (100_000, 100_000), (200_000, 50_001)]


def test_status_and_task_states_from_gcloud_json():
    described = {"status": {"state": "RUNNING", "taskGroups": {
        "group0": {"counts": {"SUCCEEDED": "3", "FAILED": "1", "RUNNING": "2"}}}}}
    state, counts = job_status(described)
    assert state == "RUNNING" and counts == {"SUCCEEDED": 3, "FAILED": 1, "RUNNING": 2, "ASSIGNED": 0, "PENDING": 0}
    assert job_status({"status": {"state": "QUEUED"}})[0] == "QUEUED"
    tasks = [{"name": f"projects/p/locations/l/jobs/j/taskGroups/group0/tasks/{i}", "status": {"state": s}}
             for i, s in ((2, "FAILED"), (0, "SUCCEEDED"), (1, "SUCCEEDED"))]
    assert task_states(tasks) == [(0, "SUCCEEDED"), (1, "SUCCEEDED"), (2, "FAILED")]


def dry_run(tmp_path, algorithms: str, **env) -> list[batch_v1.Job]:
    """The jobs the batch script prints with DRY_RUN=1 (a Movielens100K split stands in the bucket)."""
    split = tmp_path / "gcs/b/dataset-splits/splits-v1/Movielens100K/DataSplitter_leave_k_out_last"
    split.mkdir(parents=True, exist_ok=True)
    (split / "split.json").write_text("{}")
    environment = {key: value for key, value in os.environ.items() if not key.startswith("RECZILLA_")}
    environment.update(PATH=f"{REPO / 'tests/bats/stubs'}:{REPO / '.venv/bin'}:{os.environ['PATH']}",
                       FAKE_GCS=str(tmp_path / "gcs"), STUB_LOG=str(tmp_path / "calls.log"),
                       RECZILLA_BACKEND="gcloud-batch", RECZILLA_BUCKET="gs://b", RECZILLA_GCE_PROJECT="p",
                       ALGORITHMS=algorithms, DATASETS="Movielens100K", WORK_DIR=str(tmp_path / "work"), DRY_RUN="1",
                       **env)
    result = subprocess.run(["bash", str(REPO / "scripts/example_local_script.sh")], capture_output=True, text=True,
                            env=environment, cwd=tmp_path)
    assert result.returncode == 0, result.stderr + result.stdout
    assert "dry run: nothing was submitted" in result.stdout
    texts = re.findall(r"^dry run: job \S+ \(tasks \d+ to \d+\):\n(\{.*?^\})$", result.stdout, re.M | re.S)
    return [parse_job(text) for text in texts]


def test_the_scripts_dry_run_jobs_parse(tmp_path):
    algorithms = "TopPop Random GlobalEffects ItemKNNCF_cosine P3alphaRecommender"
    (job,) = dry_run(tmp_path, algorithms, MAX_PARALLEL="3", TIME_LIMIT="600")
    group = job.task_groups[0]
    assert group.task_count == 5 and group.parallelism == 3
    assert group.task_spec.max_run_duration.total_seconds() == 600 + 1800
    policy = job.allocation_policy.instances[0].policy
    assert policy.provisioning_model == batch_v1.AllocationPolicy.ProvisioningModel.SPOT
    script = group.task_spec.runnables[0].script.text
    assert script.startswith("#!/bin/bash\n") and "exec bash scripts/vm_task.sh" in script

    jobs = dry_run(tmp_path, algorithms, RECZILLA_BATCH_MAX_TASKS="2", RECZILLA_BATCH_PROVISIONING="STANDARD",
                   RECZILLA_BATCH_MACHINE_TYPE="e2-standard-4")
    assert [j.task_groups[0].task_count for j in jobs] == [2, 2, 1]
    assert [j.task_groups[0].task_spec.environment.variables["RECZILLA_TASK_OFFSET"] for j in jobs] == ["0", "2", "4"]
    for j in jobs:
        policy = j.allocation_policy.instances[0].policy
        assert policy.provisioning_model == batch_v1.AllocationPolicy.ProvisioningModel.STANDARD
        assert policy.machine_type == "e2-standard-4"
