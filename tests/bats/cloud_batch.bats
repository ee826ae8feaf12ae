#!/usr/bin/env bats
# RECZILLA_BACKEND=gcloud-batch against the stand-in gcloud (`gcloud storage` on a folder, and the
# fake Batch service of stubs/fake_batch.py): dry run, submit -> describe -> summary, split jobs,
# Ctrl-C, bad settings, and a fake-cloud batch whose tasks run here, one of them preempted.

load test_helper

setup() {
  common_setup
  export RECZILLA_BACKEND=gcloud-batch RECZILLA_BUCKET=gs://fake-bucket RECZILLA_STORAGE_CLI=auto \
    RECZILLA_ALLOW_DIRTY=1 RECZILLA_BATCH_POLL=0 RECZILLA_BATCH_LOCATION=us-central1 WORK_DIR=$BATS_TEST_TMPDIR/launcher FAKE_BATCH=$BATS_TEST_TMPDIR/batch
  # a split already in the bucket, so that nothing is computed (the experiments never run here)
  split=$FAKE_GCS/fake-bucket/dataset-splits/splits-v1/Movielens100K/DataSplitter_leave_k_out_last
  mkdir -p "$split"
  echo '{"shape": [943, 1682], "n_interactions": {"URM_train": 97000}}' >"$split/split.json"
}

batch() {
  ALGORITHMS=${ALGORITHMS:-"TopPop Random"} DATASETS=${DATASETS:-Movielens100K} bash "$REPO_ROOT/scripts/example_local_script.sh"
}

submitted_jobs() { ls "$FAKE_BATCH"; }

@test "DRY_RUN=1 prints the task list and the job JSON, and submits or uploads nothing" {
  DRY_RUN=1 run batch
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  assert_output_contains "dry run: the task list (gs://fake-bucket/batch/"
  assert_output_contains $'example_Movielens100K_DataSplitter_leave_k_out_last_Random_seeds0-0_n5\t/var/tmp/reczilla-work/example_Movielens100K_DataSplitter_leave_k_out_last_Random_seeds0-0_n5/result'
  assert_output_contains '"taskCount": "2"'
  assert_output_contains '"provisioningModel": "SPOT"'
  assert_output_contains "dry run: nothing was submitted"
  [ "$(count_calls "gcloud batch")" -eq 0 ]
  [ "$(count_calls "gcloud storage cp")" -eq 0 ]
  [ ! -d "$FAKE_GCS/fake-bucket/code" ] && [ ! -d "$FAKE_GCS/fake-bucket/batch" ]
}

@test "submit, then describe until FAILED (QUEUED, RUNNING), then the summary names the failed task" {
  RECZILLA_GCE_SERVICE_ACCOUNT="" STUB_BATCH_RUN=0 STUB_BATCH_STATES="QUEUED RUNNING RUNNING FAILED" STUB_BATCH_TASK_STATES="SUCCEEDED FAILED" run batch
  [ "$status" -eq 1 ]
  job=$(submitted_jobs)
  [[ $job =~ ^reczilla-[0-9]{6}-[0-9]{6}-0$ ]]
  [ "$(count_calls "$(call_line gcloud batch jobs submit "$job" --location=us-central1 --project=test-project --config=-)")" -eq 1 ]
  [ "$(count_calls "gcloud batch jobs describe $job")" -eq 4 ]
  assert_output_contains "job $job QUEUED | succeeded 0, failed 0, running 0, waiting 2"
  assert_output_contains "job $job RUNNING | succeeded 1, failed 0, running 1, waiting 0"
  assert_output_contains "job $job FAILED | succeeded 1, failed 1, running 0, waiting 0"
  assert_output_contains "experiments: 2 run, 1 done, 1 failed"
  assert_output_contains "FAILED example_Movielens100K_DataSplitter_leave_k_out_last_Random_seeds0-0_n5 (task 1 of $job, FAILED, log: gs://fake-bucket/inbox/logs/"
  assert_output_contains "delete it: gcloud batch jobs delete $job --location=us-central1 --project=test-project --quiet"
  # the task list and the code went to the bucket first
  ls "$FAKE_GCS"/fake-bucket/code/*/source.tar.gz
  tasks=$(echo "$FAKE_GCS"/fake-bucket/batch/*/tasks.tsv)
  [ "$(wc -l <"$tasks")" -eq 2 ]
  python3 - "$FAKE_BATCH/$job/job.json" <<'EOF'
import json, sys
job = json.load(open(sys.argv[1]))
group = job["taskGroups"][0]
assert group["taskCount"] == "2" and group["parallelism"] == "2", group
spec = group["taskSpec"]
assert spec["maxRunDuration"] == "5400s" and spec["maxRetryCount"] == 3, spec
assert "serviceAccount" not in job["allocationPolicy"]
assert job["allocationPolicy"]["instances"][0]["policy"]["machineType"] == "test-machine"
env = spec["environment"]["variables"]
assert env["RECZILLA_TASK_OFFSET"] == "0" and env["RECZILLA_TASK_LIST"].endswith("/tasks.tsv")
EOF
}

@test "a job that succeeds: exit 0 and every experiment done" {
  STUB_BATCH_RUN=0 STUB_BATCH_STATES="SCHEDULED SUCCEEDED" STUB_BATCH_TASK_STATES="SUCCEEDED SUCCEEDED" \
    RECZILLA_BATCH_PROVISIONING=STANDARD RECZILLA_GCE_SERVICE_ACCOUNT=runner@p.iam.gserviceaccount.com run batch
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  assert_output_contains "experiments: 2 run, 2 done, 0 failed"
  job=$(submitted_jobs)
  grep -q '"provisioningModel": "STANDARD"' "$FAKE_BATCH/$job/job.json"
  grep -q '"email": "runner@p.iam.gserviceaccount.com"' "$FAKE_BATCH/$job/job.json"
}

@test "a batch over RECZILLA_BATCH_MAX_TASKS is split into jobs, submitted one after the other" {
  ALGORITHMS="TopPop Random GlobalEffects" RECZILLA_BATCH_MAX_TASKS=2 STUB_BATCH_RUN=0 \
    STUB_BATCH_STATES=SUCCEEDED STUB_BATCH_TASK_STATES="SUCCEEDED SUCCEEDED" run batch
  mapfile -t jobs < <(submitted_jobs)
  [ "${#jobs[@]}" -eq 2 ]
  grep -q '"taskCount": "2"' "$FAKE_BATCH/${jobs[0]}/job.json"
  grep -q '"RECZILLA_TASK_OFFSET": "0"' "$FAKE_BATCH/${jobs[0]}/job.json"
  grep -q '"taskCount": "1"' "$FAKE_BATCH/${jobs[1]}/job.json"
  grep -q '"RECZILLA_TASK_OFFSET": "2"' "$FAKE_BATCH/${jobs[1]}/job.json"
  # the second job's one task is GlobalEffects (line 3 of the task list)
  assert_output_contains "experiments: 3 run, 3 done, 0 failed"
  [ "$(grep -c "^gcloud batch jobs submit" "$STUB_LOG")" -eq 2 ]
}

@test "Ctrl-C while waiting deletes the job and says how to follow it; KEEP_ON_INTERRUPT leaves it" {
  for keep in 0 1; do
    : >"$STUB_LOG"
    rm -rf "$FAKE_BATCH"
    STUB_BATCH_RUN=0 STUB_BATCH_STATES=RUNNING STUB_BATCH_TASK_STATES="RUNNING RUNNING" RECZILLA_BATCH_POLL=1 \
      RECZILLA_BATCH_KEEP_ON_INTERRUPT=$keep start_in_own_group batch
    wait_until 30 has_calls "gcloud batch jobs describe" 1
    kill -INT -- "-$STARTED_PID"
    status=0
    wait "$STARTED_PID" || status=$?
    [ "$status" -eq 130 ]
    job=$(submitted_jobs)
    grep -q "follow it: gcloud batch jobs describe $job" "$BATS_TEST_TMPDIR/background.out"
    if [ "$keep" = 0 ]; then
      [ "$(count_calls "gcloud batch jobs delete $job")" -eq 1 ]
      grep -q "deleting job $job" "$BATS_TEST_TMPDIR/background.out"
    else
      [ "$(count_calls "gcloud batch jobs delete")" -eq 0 ]
      grep -q "job $job keeps running" "$BATS_TEST_TMPDIR/background.out"
    fi
  done
}

@test "bad settings: one line, exit 2, nothing submitted" {
  RECZILLA_BATCH_PROVISIONING=spot run batch
  [ "$status" -eq 2 ] && assert_output_contains "RECZILLA_BATCH_PROVISIONING must be SPOT or STANDARD, not 'spot'"
  RECZILLA_BUCKET=/tmp/folder run batch
  [ "$status" -eq 2 ] && assert_output_contains "RECZILLA_BUCKET must be a gs:// bucket on gcloud-batch"
  RECZILLA_BATCH_MAX_RETRIES=11 run batch
  [ "$status" -eq 2 ] && assert_output_contains "RECZILLA_BATCH_MAX_RETRIES must be 0 to 10"
  MAX_PARALLEL=5001 run batch
  [ "$status" -eq 2 ] && assert_output_contains "MAX_PARALLEL must be at most 5000"
  RECZILLA_GCE_PROJECT="" run batch
  [ "$status" -eq 2 ] && assert_output_contains "no GCP project"
  [ "$(count_calls "gcloud batch")" -eq 0 ]
}

@test "fake cloud: every task runs with its BATCH_TASK_INDEX, a preempted task resumes, results reach the meta-dataset" {
  [ -x "$REPO_ROOT/.venv/bin/python" ] || skip "no .venv (run make build)"
  rm -rf "$split"
  # the VMs' interpreter: the project's venv, with the test-only SlowTopPop (fit sleeps 0.5 s) registered
  cat >slow-python <<EOF
#!/usr/bin/env bash
if [[ \$1 == -m && \$2 == Experiment_handler.run_experiment ]]; then shift 2; set -- -m tests.slow_algorithm "\$@"; fi
PYTHONPATH=$REPO_ROOT exec $REPO_ROOT/.venv/bin/python "\$@"
EOF
  chmod +x slow-python
  # has-samples ZIP N: the result zip holds at least N finished samples
  printf '%s\n' '#!/usr/bin/env python3' 'import json, sys, zipfile' \
    'try: sys.exit(len(json.loads(zipfile.ZipFile(sys.argv[1]).read("metadata.json"))["samples"]) < int(sys.argv[2]))' \
    'except (OSError, KeyError, ValueError, zipfile.BadZipFile): sys.exit(1)' >has-samples
  chmod +x has-samples
  name=cloud_SyntheticSmall_DataSplitter_leave_k_out_last_SlowTopPop_seeds0-0_n6
  disk=$BATS_TEST_TMPDIR/vm-disk
  fake_cloud_batch() {
    ALGORITHMS="SlowTopPop TopPop" DATASETS=SyntheticSmall NUM_SAMPLES=6 TIME_LIMIT=300 EXPERIMENT_BASE=cloud \
      MAX_PARALLEL=1 RECZILLA_BATCH_POLL=1 RECZILLA_CHECKPOINT_INTERVAL=1 RECZILLA_BATCH_WORK_DIR=$disk \
      RECZILLA_VM_DIR=$disk/code RECZILLA_VM_PYTHON=$BATS_TEST_TMPDIR/slow-python \
      STUB_PREEMPT_TASK=0 STUB_PREEMPT_WHEN="$BATS_TEST_TMPDIR/has-samples $FAKE_GCS/fake-bucket/checkpoints/$name/result.zip 2" STUB_VM_DISK=$disk \
      bash "$REPO_ROOT/scripts/example_local_script.sh"
  }
  run fake_cloud_batch
  [ "$status" -eq 0 ] || { echo "$output"; cat "$FAKE_BATCH"/*/task-*.log; false; }
  assert_output_contains "experiments: 2 run, 2 done, 0 failed"
  job=$(submitted_jobs)
  [ "$(cat "$FAKE_BATCH/$job/preempted")" = 0 ]
  bucket=$FAKE_GCS/fake-bucket
  mapfile -t zips < <(result_zips "$bucket/inbox")
  [ "${#zips[@]}" -eq 2 ]
  marker=$(cat "$bucket/inbox/done/$name.done")
  assert_equal "$(zip_summary "$bucket/inbox/$marker")" "complete SlowTopPop $name"
  # the retry restored the checkpoint and resumed: 6 samples in all, some finished before the kill
  python3 - "$bucket/inbox/$marker" <<'EOF'
import json, re, sys, zipfile
archive = zipfile.ZipFile(sys.argv[1])
meta = json.loads(archive.read("metadata.json"))
assert [s["sample_number"] for s in meta["samples"]] == list(range(6)), meta["samples"]
resumed = re.findall(r"6 samples, (\d+) already finished", archive.read("experiment.log").decode())
assert len(resumed) == 2 and resumed[0] == "0" and int(resumed[1]) >= 1, resumed
EOF
  grep -q "restoring the partial result from gs://fake-bucket/checkpoints/$name" "$bucket/inbox/logs/${name}_"*.attempt1.log
  ls "$bucket/inbox/logs/${name}_"*.attempt0.log
  [ ! -e "$bucket/checkpoints/$name" ]
  grep -q "SlowTopPop" "$BATS_TEST_TMPDIR/launcher/meta_dataset.csv"
  [ "$(grep -c "$marker" "$BATS_TEST_TMPDIR/launcher/meta_dataset.csv")" -eq 6 ]

  run fake_cloud_batch
  [ "$status" -eq 0 ]
  assert_output_contains "skipped 2 experiments already in the inbox"
  [ "$(submitted_jobs | wc -l)" -eq 1 ]
}
