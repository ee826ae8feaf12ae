# shellcheck shell=bash
# Shared by the bats tests: the stand-in gcloud/gsutil first on PATH, then the project's venv;
# a clean environment with fast retries; every file under the test's temporary folder.

REPO_ROOT=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
STUBS=$BATS_TEST_DIRNAME/stubs

common_setup() {
  # common_setup [FOLDER]: the test's temporary folder unless FOLDER (setup_file) is given.
  local dir=${1:-$BATS_TEST_TMPDIR} var
  for var in $(compgen -v RECZILLA_) ARGS SPLIT_PATH_ON_BUCKET ALGORITHMS DATASETS SPLIT_TYPE ALG_SEED PARAM_SEED \
    NUM_SAMPLES TIME_LIMIT EXPERIMENT_BASE INSTANCE_BASE WORK_DIR LOG_DIR META_DATASET MAX_PARALLEL; do
    unset "$var"
  done
  PATH=$STUBS:$REPO_ROOT/.venv/bin:$PATH
  export STUB_LOG=$dir/calls.log FAKE_GCS=$dir/gcs STUB_PYTHON_DIR=$dir/python
  : >"$STUB_LOG"
  mkdir -p "$FAKE_GCS" "$STUB_PYTHON_DIR"
  export RECZILLA_GCE_PROJECT=test-project RECZILLA_GCE_ZONE=test-zone RECZILLA_GCE_IMAGE_FAMILY=test-family \
    RECZILLA_GCE_MACHINE_TYPE=test-machine RECZILLA_GCE_SERVICE_ACCOUNT=runner@test-project.iam.gserviceaccount.com \
    RECZILLA_GCE_SCOPES=test-scope RECZILLA_GCE_CREATE_RETRY_WAIT=0 RECZILLA_GCE_SSH_RETRY_WAIT=0 \
    RECZILLA_GCE_SSH_WAIT=0
  # these tests cover the gsutil fallback; RECZILLA_STORAGE_CLI=auto picks the stand-in `gcloud storage`
  export RECZILLA_STORAGE_CLI=gsutil
  cd "$dir" || return
}

utils() {
  # utils FUNCTION ARG...: runs a function of scripts/utils.sh in a new bash.
  bash -c 'source "$0/scripts/utils.sh" && "$@"' "$REPO_ROOT" "$@"
}

start_in_own_group() {
  # start_in_own_group COMMAND...: starts COMMAND in the background as the leader of a new
  # process group (as batch_submit does, or a terminal's foreground job); sets STARTED_PID.
  set -m
  "$@" >"$BATS_TEST_TMPDIR/background.out" 2>&1 3>&- &
  # shellcheck disable=SC2034  # read by the tests
  STARTED_PID=$!
  set +m
}

wait_until() {
  # wait_until SECONDS COMMAND...: polls COMMAND until it succeeds; fails after SECONDS.
  local deadline=$((SECONDS + $1))
  shift
  until "$@"; do
    if ((SECONDS >= deadline)); then
      echo "timed out waiting for: $*" >&2
      return 1
    fi
    sleep 0.1
  done
}

call_line() {
  # call_line ARG...: the line a stand-in logs for this call.
  local line
  printf -v line ' %q' "$@"
  printf '%s\n' "${line# }"
}

count_calls() {
  # count_calls PREFIX: logged calls whose line starts with PREFIX.
  local line count=0
  while IFS= read -r line; do
    if [[ $line == "$1"* ]]; then count=$((count + 1)); fi
  done <"$STUB_LOG"
  echo "$count"
}

has_calls() {
  # has_calls PREFIX N: at least N logged calls start with PREFIX.
  (($(count_calls "$1") >= $2))
}

group_gone() {
  # group_gone PGID: no process of that process group is left.
  ! kill -0 -- "-$1" 2>/dev/null
}

assert_equal() {
  if [[ $1 != "$2" ]]; then
    printf 'expected: %s\nactual:   %s\n' "$2" "$1" >&2
    return 1
  fi
}

assert_output_contains() {
  # shellcheck disable=SC2154  # output is set by bats' run
  if [[ $output != *"$1"* ]]; then
    printf 'output does not contain: %s\noutput:\n%s\n' "$1" "$output" >&2
    return 1
  fi
}

recorded_calls() {
  # The folders of the recording-python's experiment calls, in the order they started.
  local event pid
  if [[ -f $STUB_PYTHON_DIR/events ]]; then
    while read -r event pid; do
      if [[ $event == start ]]; then echo "$STUB_PYTHON_DIR/call.$pid"; fi
    done <"$STUB_PYTHON_DIR/events"
  fi
}

has_python_calls() {
  # has_python_calls N: the recording-python started at least N experiments.
  (($(recorded_calls | wc -l) >= $1))
}

read_argv() {
  # read_argv CALL_FOLDER: sets ARGV to the arguments that call received.
  # shellcheck disable=SC2034  # read by the tests
  mapfile -d '' -t ARGV <"$1/argv"
}

max_concurrent_calls() {
  # The largest number of recording-python experiments that ran at the same time.
  local event pid running=0 most=0
  while read -r event pid; do
    if [[ $event == start ]]; then running=$((running + 1)); else running=$((running - 1)); fi
    if ((running > most)); then most=$running; fi
  done <"$STUB_PYTHON_DIR/events"
  echo "$most"
}

result_zips() {
  # result_zips FOLDER: the names of the result_<mmddyy_HHMMSS>_<4 hex>.zip files in FOLDER.
  local path
  for path in "$1"/result_*.zip; do
    if [[ ${path##*/} =~ ^result_[0-9]{6}_[0-9]{6}_[0-9a-f]{4}\.zip$ ]]; then echo "${path##*/}"; fi
  done
}

zip_summary() {
  # zip_summary RESULT_ZIP: "status alg_name experiment_name" from its metadata.json.
  python3 -c 'import json, sys, zipfile
meta = json.loads(zipfile.ZipFile(sys.argv[1]).read("metadata.json"))
print(meta["status"], meta["search_params"]["alg_name"], meta["search_params"]["experiment_name"])' "$1"
}
