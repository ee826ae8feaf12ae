#!/usr/bin/env bats
# utils.sh on the gcloud backend, against the stand-in gcloud: exact commands, retries, and the
# instance deleted exactly once on every exit path.

load test_helper

setup() {
  common_setup
  # a hand-built image holding the code (code_shipping.bats covers the shipped code)
  export RECZILLA_BACKEND=gcloud RECZILLA_BUCKET=gs://test-bucket RECZILLA_GCE_REPO_DIR=/home/shared/reczilla
  ARGS_STR="60 SyntheticSmall DataSplitter_leave_k_out_last TopPop /home/shared/split 0 0 2 /home/shared/result exp-1 gs://test-bucket/split"
  SPLIT=gs://test-bucket/dataset-splits/splits-v1/SyntheticSmall/DataSplitter_leave_k_out_last
}

where=(--project=test-project --zone=test-zone)
create_line() {
  call_line gcloud compute instances create "$1" "${where[@]}" --image-family=test-family \
    --service-account=runner@test-project.iam.gserviceaccount.com --scopes=test-scope "${@:2}"
}
delete_line() { call_line gcloud compute instances delete "$1" "${where[@]}" --quiet; }

@test "create, ssh and delete carry the configured flags, in this order" {
  run utils run_experiment "$ARGS_STR" "$SPLIT" inst-1
  [ "$status" -eq 0 ]
  mapfile -t calls <"$STUB_LOG"
  [ "${#calls[@]}" -eq 3 ]
  assert_equal "${calls[0]}" "$(create_line inst-1 --machine-type=test-machine)"
  [[ ${calls[1]} == "$(call_line gcloud compute ssh inst-1 "${where[@]}") --command="* ]]
  assert_equal "${calls[2]}" "$(delete_line inst-1)"
}

@test "the ssh command exports ARGS, SPLIT_PATH_ON_BUCKET, the inbox and the environment, then runs the script" {
  export RECZILLA_GCE_REPO_DIR=$BATS_TEST_TMPDIR/repo RECZILLA_GCE_ACTIVATE=/opt/conda/bin/activate RECZILLA_GCE_CONDA_ENV=rz
  mkdir -p repo/scripts
  # the instance's script, replaced by one that prints what it received
  printf '%s\n' 'printf "%s|" "$ARGS" "$SPLIT_PATH_ON_BUCKET" "$RECZILLA_INBOX" "$RECZILLA_ACTIVATE" "$RECZILLA_CONDA_ENV"' \
    >repo/scripts/run_experiment_on_instance.sh
  STUB_SSH=run run utils run_experiment "$ARGS_STR" "$SPLIT" inst-1
  [ "$status" -eq 0 ]
  assert_output_contains "$ARGS_STR|$SPLIT|gs://test-bucket/inbox|/opt/conda/bin/activate|rz|"
}

@test "defaults: the gcloud CLI's project, stock Debian image, no service account flag, zone, machine type, scopes, bucket" {
  unset RECZILLA_GCE_PROJECT RECZILLA_GCE_ZONE RECZILLA_GCE_IMAGE_FAMILY RECZILLA_GCE_MACHINE_TYPE \
    RECZILLA_GCE_SERVICE_ACCOUNT RECZILLA_GCE_SCOPES RECZILLA_BUCKET
  STUB_PROJECT=my-own-project run bash -c 'source "$0/scripts/utils.sh"; echo "$RECZILLA_BUCKET"; run_experiment "$1" "$2" inst-d' \
    "$REPO_ROOT" "$ARGS_STR" "$SPLIT"
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = gs://reczilla-results ]
  assert_equal "$(grep -v '^gcloud config' "$STUB_LOG" | head -n1)" "$(call_line gcloud compute instances create inst-d \
    --project=my-own-project --zone=us-central1-a --image-family=debian-12 --image-project=debian-cloud \
    --scopes=https://www.googleapis.com/auth/devstorage.read_write --machine-type=n1-highmem-2)"
  [ "$(count_calls "gcloud compute instances delete inst-d --project=my-own-project")" -eq 1 ]
}

@test "no project configured anywhere: refused before anything is created" {
  unset RECZILLA_GCE_PROJECT
  run utils run_experiment "$ARGS_STR" "$SPLIT" inst-1
  [ "$status" -eq 2 ]
  assert_output_contains "no GCP project: run 'gcloud config set project MY_PROJECT' or set RECZILLA_GCE_PROJECT"
  [ "$(count_calls "gcloud compute")" -eq 0 ]
  ALGORITHMS=TopPop DATASETS=Movielens100K WORK_DIR=$BATS_TEST_TMPDIR/w run bash "$REPO_ROOT/scripts/example_local_script.sh"
  [ "$status" -eq 2 ]
  assert_output_contains "no GCP project"
}

@test "the GPU variant asks for the GPU machine type and an accelerator" {
  export RECZILLA_GCE_GPU_MACHINE_TYPE=gpu-machine RECZILLA_GCE_ACCELERATOR=type=test-gpu,count=2
  run utils run_experiment_GPU "$ARGS_STR" "$SPLIT" inst-g
  [ "$status" -eq 0 ]
  assert_equal "$(head -n1 "$STUB_LOG")" "$(create_line inst-g --machine-type=gpu-machine \
    --accelerator=type=test-gpu,count=2 --maintenance-policy=TERMINATE)"
  [ "$(count_calls "$(delete_line inst-g)")" -eq 1 ]
}

@test "create is tried again: success at the third try" {
  STUB_FAIL_CREATE=2 run utils run_experiment "$ARGS_STR" "$SPLIT" inst-1
  [ "$status" -eq 0 ]
  [ "$(count_calls "gcloud compute instances create")" -eq 3 ]
  [ "$(count_calls "gcloud compute ssh")" -eq 1 ]
  [ "$(count_calls "gcloud compute instances delete")" -eq 1 ]
  assert_output_contains "creating inst-1 failed (attempt 2 of 5)"
}

@test "create gives up after 5 tries: non-zero exit, no ssh, one delete" {
  STUB_FAIL_CREATE=5 run utils run_experiment "$ARGS_STR" "$SPLIT" inst-1
  [ "$status" -eq 1 ]
  [ "$(count_calls "gcloud compute instances create")" -eq 5 ]
  [ "$(count_calls "gcloud compute ssh")" -eq 0 ]
  [ "$(count_calls "$(delete_line inst-1)")" -eq 1 ]
  assert_output_contains "too many create attempts"
}

@test "ssh is tried again once: success at the second try, one delete" {
  STUB_FAIL_SSH=1 run utils run_experiment "$ARGS_STR" "$SPLIT" inst-1
  [ "$status" -eq 0 ]
  [ "$(count_calls "gcloud compute instances create")" -eq 1 ]
  [ "$(count_calls "gcloud compute ssh")" -eq 2 ]
  [ "$(count_calls "$(delete_line inst-1)")" -eq 1 ]
}

@test "ssh gives up after 2 tries: non-zero exit, one delete" {
  STUB_FAIL_SSH=3 run utils run_experiment "$ARGS_STR" "$SPLIT" inst-1
  [ "$status" -eq 1 ]
  [ "$(count_calls "gcloud compute ssh")" -eq 2 ]
  [ "$(count_calls "$(delete_line inst-1)")" -eq 1 ]
  [ "$(tail -n1 "$STUB_LOG")" = "$(delete_line inst-1)" ]
  assert_output_contains "too many ssh attempts"
}

interrupt_during_ssh() {
  # interrupt_during_ssh SIGNAL: sends SIGNAL to the process group of a run_experiment (as
  # batch_stop, or a terminal's Ctrl-C, does) while ssh runs; waits until the group is gone.
  STUB_SSH=hang start_in_own_group utils run_experiment "$ARGS_STR" "$SPLIT" inst-1
  wait_until 20 has_calls "gcloud compute ssh" 1
  kill "-$1" -- "-$STARTED_PID"
  wait_until 20 group_gone "$STARTED_PID"
}

@test "TERM during ssh: the instance is deleted once" {
  interrupt_during_ssh TERM
  [ "$(count_calls "$(delete_line inst-1)")" -eq 1 ]
  [ "$(count_calls "gcloud compute ssh")" -eq 1 ]
  grep -q "deleting instance inst-1" "$BATS_TEST_TMPDIR/background.out"
}

@test "Ctrl-C (INT) during ssh: the instance is deleted once" {
  interrupt_during_ssh INT
  status=0
  wait "$STARTED_PID" || status=$?
  [ "$status" -eq 130 ]
  [ "$(count_calls "$(delete_line inst-1)")" -eq 1 ]
  [ "$(count_calls "gcloud compute ssh")" -eq 1 ]
}

leftover_line() {
  echo "error: instance(s) that may still be running (billed): $*; delete them with:" \
    "gcloud compute instances delete $* --project=test-project --zone=test-zone --quiet"
}

@test "a failing delete: non-zero exit, and the command to run by hand" {
  STUB_FAIL_DELETE=1 run utils run_experiment "$ARGS_STR" "$SPLIT" inst-1
  [ "$status" -eq 1 ]
  [ "$(count_calls "gcloud compute instances delete")" -eq 1 ]
  assert_output_contains "error: could not delete instance inst-1 (gcloud exit 1)"
  assert_output_contains "$(leftover_line inst-1)"
}

@test "deleting an instance that does not exist (its create failed) is not an error" {
  STUB_DELETE=missing run utils run_experiment "$ARGS_STR" "$SPLIT" inst-1
  [ "$status" -eq 0 ]
  assert_output_contains "instance inst-1 does not exist: nothing to delete"
  [[ $output != *"may still be running"* ]]
}

@test "a hanging delete is stopped after RECZILLA_GCE_DELETE_TIMEOUT, and said" {
  start=$SECONDS
  RECZILLA_GCE_DELETE_TIMEOUT=1 STUB_DELETE=hang run utils run_experiment "$ARGS_STR" "$SPLIT" inst-1
  [ "$status" -eq 1 ]
  ((SECONDS - start < 10))
  assert_output_contains "error: deleting instance inst-1 took more than 1s (RECZILLA_GCE_DELETE_TIMEOUT): stopped"
  assert_output_contains "$(leftover_line inst-1)"
}

@test "TERM or Ctrl-C during a hanging delete stops it at once and says what may be left" {
  for signal in TERM INT; do
    : >"$STUB_LOG"
    RECZILLA_GCE_DELETE_TIMEOUT=120 STUB_DELETE=hang start_in_own_group utils run_experiment "$ARGS_STR" "$SPLIT" inst-1
    wait_until 20 has_calls "gcloud compute instances delete" 1
    sleep 0.3
    start=$SECONDS
    kill "-$signal" -- "-$STARTED_PID"
    wait_until 8 group_gone "$STARTED_PID"
    ((SECONDS - start < 8))
    status=0
    wait "$STARTED_PID" || status=$?
    [ "$status" -ne 0 ]
    grep -qF "error: deleting instance inst-1 was interrupted" "$BATS_TEST_TMPDIR/background.out"
    grep -qF "$(leftover_line inst-1)" "$BATS_TEST_TMPDIR/background.out"
  done
}

@test "ARGS is checked here before any instance is created: count and quoting, in one line" {
  run utils run_experiment "60 SyntheticSmall DataSplitter_leave_k_out_last TopPop split 0 0 2 result exp-1" "$SPLIT" inst-1
  [ "$status" -eq 2 ]
  [ "${#lines[@]}" -eq 1 ]
  assert_output_contains "error: ARGS holds 10 arguments, Experiment_handler.run_experiment takes 11 (time_limit dataset_name"
  run utils run_experiment "60 'SyntheticSmall DataSplitter_leave_k_out_last TopPop split 0 0 2 result exp-1 x" "$SPLIT" inst-1
  [ "$status" -eq 2 ]
  [ "${#lines[@]}" -eq 1 ]
  assert_output_contains "error: ARGS is not a valid argument string (No closing quotation): 60 'SyntheticSmall"
  [ ! -s "$STUB_LOG" ]
}

@test "Ctrl-C on a gcloud batch: every running instance is deleted once, and none is created after" {
  mkdir -p "$FAKE_GCS/test-bucket/dataset-splits/splits-v1/Movielens100K/DataSplitter_leave_k_out_last"
  touch "$FAKE_GCS/test-bucket/dataset-splits/splits-v1/Movielens100K/DataSplitter_leave_k_out_last/split.json"
  ALGORITHMS="TopPop Random GlobalEffects" DATASETS=Movielens100K MAX_PARALLEL=2 STUB_SSH=hang \
    WORK_DIR=$BATS_TEST_TMPDIR/work start_in_own_group bash "$REPO_ROOT/scripts/example_local_script.sh"
  wait_until 30 has_calls "gcloud compute ssh" 2
  kill -INT -- "-$STARTED_PID"
  status=0
  wait "$STARTED_PID" || status=$?
  [ "$status" -eq 130 ]
  [ "$(count_calls "gcloud compute instances create")" -eq 2 ]
  mapfile -t created < <(grep "^gcloud compute instances create" "$STUB_LOG" | cut -d' ' -f5)
  for instance in "${created[@]}"; do
    [ "$(count_calls "$(delete_line "$instance")")" -eq 1 ]
  done
  [ "$(count_calls "gcloud compute instances delete")" -eq 2 ]
  grep -q "experiments: 2 run, 0 done, 2 failed" "$BATS_TEST_TMPDIR/background.out"
}

@test "delete_instances deletes each named instance (the reference deleted one called instance_list)" {
  run utils delete_instances inst-a inst-b
  [ "$status" -eq 0 ]
  mapfile -t calls <"$STUB_LOG"
  [ "${#calls[@]}" -eq 2 ]
  assert_equal "${calls[0]}" "$(delete_line inst-a)"
  assert_equal "${calls[1]}" "$(delete_line inst-b)"
}

@test "delete_instances fails when a delete failed, naming every instance that may be left" {
  STUB_FAIL_DELETE=2 run utils delete_instances inst-a inst-b inst-c
  [ "$status" -eq 1 ]
  [ "$(count_calls "gcloud compute instances delete")" -eq 3 ]
  assert_output_contains "$(leftover_line inst-a inst-b)"
}

@test "delete_instances stops at TERM, naming the instance being deleted and those not tried" {
  RECZILLA_GCE_DELETE_TIMEOUT=120 STUB_DELETE=hang start_in_own_group bash -c 'source "$0/scripts/utils.sh"; delete_instances "$@"' "$REPO_ROOT" inst-a inst-b
  wait_until 20 has_calls "gcloud compute instances delete" 1
  sleep 0.3
  kill -TERM -- "-$STARTED_PID"
  wait_until 8 group_gone "$STARTED_PID"
  status=0
  wait "$STARTED_PID" || status=$?
  [ "$status" -eq 1 ]
  [ "$(count_calls "gcloud compute instances delete")" -eq 1 ]
  grep -qF "$(leftover_line inst-a inst-b)" "$BATS_TEST_TMPDIR/background.out"
}

gcloud_batch() {
  # gcloud_batch VAR=VALUE...: a gcloud batch of TopPop and Random on Movielens100K (its split in the bucket).
  mkdir -p "$FAKE_GCS/test-bucket/dataset-splits/splits-v1/Movielens100K/DataSplitter_leave_k_out_last"
  touch "$FAKE_GCS/test-bucket/dataset-splits/splits-v1/Movielens100K/DataSplitter_leave_k_out_last/split.json"
  env ALGORITHMS="TopPop Random" DATASETS=Movielens100K WORK_DIR="$BATS_TEST_TMPDIR/work" INSTANCE_BASE=rz "$@" \
    bash "$REPO_ROOT/scripts/example_local_script.sh"
}

@test "a batch whose instance deletes failed says which instances may be left, how to delete them, and fails" {
  STUB_FAIL_DELETE=2 run gcloud_batch
  [ "$status" -eq 1 ]
  mapfile -t created < <(grep "^gcloud compute instances create" "$STUB_LOG" | cut -d' ' -f5 | sort)
  [ "${#created[@]}" -eq 2 ]
  assert_output_contains "WARNING: 2 instance(s) may still be running, and billed: "
  leftovers=$(grep "^WARNING: 2 instance" <<<"$output" | sed 's/.*billed: //' | tr ' ' '\n' | sort | tr '\n' ' ')
  assert_equal "$leftovers" "${created[*]} "
  assert_output_contains "  delete them with: gcloud compute instances delete "
  assert_output_contains " --project=test-project --zone=test-zone --quiet"
}

@test "a second Ctrl-C on a gcloud batch cuts hanging deletes short, and the summary names the instances" {
  RECZILLA_GCE_DELETE_TIMEOUT=120 STUB_SSH=hang STUB_DELETE=hang MAX_PARALLEL=2 start_in_own_group gcloud_batch
  wait_until 30 has_calls "gcloud compute ssh" 2
  kill -INT -- "-$STARTED_PID"
  wait_until 20 has_calls "gcloud compute instances delete" 2
  sleep 0.5
  start=$SECONDS
  kill -INT -- "-$STARTED_PID"
  status=0
  wait "$STARTED_PID" || status=$?
  ((SECONDS - start < 10))
  [ "$status" -eq 130 ]
  grep -q "interrupted again: stopping the instance deletes too" "$BATS_TEST_TMPDIR/background.out"
  grep -q "^WARNING: 2 instance(s) may still be running, and billed: rz-" "$BATS_TEST_TMPDIR/background.out"
}

@test "NUM_SAMPLES=0 and TIME_LIMIT=0 are refused before any instance is created" {
  for setting in NUM_SAMPLES=0 TIME_LIMIT=0 NUM_SAMPLES=00; do
    run gcloud_batch "$setting"
    [ "$status" -eq 2 ]
    assert_output_contains "error: ${setting%%=*} must be a positive whole number, not '${setting#*=}'"
  done
  [ ! -s "$STUB_LOG" ]
}

@test "run_experiment needs three non-empty arguments" {
  run utils run_experiment "$ARGS_STR" "$SPLIT"
  [ "$status" -eq 2 ]
  assert_output_contains "usage: run_experiment ARGS_STR SPLIT_PATH INSTANCE_NAME"
  run utils run_experiment "$ARGS_STR" "" inst-1
  [ "$status" -eq 2 ]
  [ ! -s "$STUB_LOG" ]
}

@test "an unknown backend is an error" {
  RECZILLA_BACKEND=aws run utils run_experiment "$ARGS_STR" "$SPLIT" inst-1
  [ "$status" -eq 2 ]
  assert_output_contains "RECZILLA_BACKEND must be local, gcloud or gcloud-batch, not 'aws'"
}
