#!/usr/bin/env bats
# example_local_script.sh on the local backend, end to end on SyntheticSmall (real Python, run
# through tests/bats/stubs/recording-python to see how many experiments run at once).

load test_helper

batch() {
  # batch VAR=VALUE...: runs the batch script with these settings in the file's bucket and work folder.
  env RECZILLA_BUCKET="$BATS_FILE_TMPDIR/bucket" WORK_DIR="$BATS_FILE_TMPDIR/work" EXPERIMENT_BASE=t \
    DATASETS=SyntheticSmall NUM_SAMPLES=2 TIME_LIMIT=120 MAX_PARALLEL=2 "$@" \
    bash "$REPO_ROOT/scripts/example_local_script.sh"
}

setup_file() {
  common_setup "$BATS_FILE_TMPDIR"
  export RECZILLA_PYTHON=recording-python STUB_PYTHON_REAL=1
  status=0
  batch ALGORITHMS="TopPop Random GlobalEffects" >first.out 2>&1 || status=$?
  echo "$status" >first.status
}

setup() {
  common_setup
  export STUB_PYTHON_DIR=$BATS_FILE_TMPDIR/python RECZILLA_PYTHON=recording-python STUB_PYTHON_REAL=1
  INBOX=$BATS_FILE_TMPDIR/bucket/inbox
  FIRST=$BATS_FILE_TMPDIR/first.out
}

name_of() { echo "t_SyntheticSmall_DataSplitter_leave_k_out_last_$1_seeds0-0_n2"; }

@test "every experiment runs, at most MAX_PARALLEL=2 at once, and its result is in the inbox" {
  [ "$(cat "$BATS_FILE_TMPDIR/first.status")" -eq 0 ] || { cat "$FIRST"; false; }
  [ "$(max_concurrent_calls)" -eq 2 ]
  [ "$(recorded_calls | wc -l)" -eq 3 ]
  mapfile -t zips < <(result_zips "$INBOX")
  [ "${#zips[@]}" -eq 3 ]
  summaries=$(for zip in "${zips[@]}"; do zip_summary "$INBOX/$zip"; done | sort)
  assert_equal "$summaries" "$(printf 'complete %s %s\n' GlobalEffects "$(name_of GlobalEffects)" \
    Random "$(name_of Random)" TopPop "$(name_of TopPop)")"
  for alg in TopPop Random GlobalEffects; do
    zip=$(cat "$INBOX/done/$(name_of "$alg").done")
    [ -f "$INBOX/$zip" ]
  done
}

@test "each experiment gets its share: RECZILLA_THREADS = cores / MAX_PARALLEL (at least 1), RECZILLA_MEMORY_LIMIT = budget / MAX_PARALLEL" {
  # cores and budget as Data_manager.machine_resources detects them (affinity, cgroup limits)
  read -r cores _ budget < <(python3 -m Data_manager.machine_resources)
  for call in $(recorded_calls); do
    assert_equal "$(cat "$call/threads")" "$((cores / 2 > 0 ? cores / 2 : 1))"
    assert_equal "$(cat "$call/memory_limit")" "$((budget / 2))"
  done
  grep -q "(RECZILLA_THREADS=$((cores / 2 > 0 ? cores / 2 : 1)), RECZILLA_MEMORY_LIMIT=$((budget / 2)) each)" "$FIRST"
}

@test "a RECZILLA_MEMORY_LIMIT that is set goes to each experiment unchanged" {
  export STUB_PYTHON_DIR=$BATS_TEST_TMPDIR/python STUB_PYTHON_REAL=0
  mkdir -p bucket
  cp -R "$BATS_FILE_TMPDIR/bucket/dataset-splits" bucket/ # a bucket of its own: the file's inbox stays as it is
  run batch ALGORITHMS=TopPop RECZILLA_MEMORY_LIMIT=3G RECZILLA_BUCKET="$BATS_TEST_TMPDIR/bucket" WORK_DIR="$BATS_TEST_TMPDIR/work"
  [ "$status" -eq 0 ]
  [ "$(recorded_calls | wc -l)" -eq 1 ]
  assert_equal "$(cat "$(recorded_calls)/memory_limit")" 3G
}

@test "progress lines, one log per experiment, a summary with the inbox, finished work folders removed" {
  for alg in TopPop Random GlobalEffects; do
    grep -q "started $(name_of "$alg") " "$FIRST"
    grep -q "done $(name_of "$alg") " "$FIRST"
    log=$(ls "$BATS_FILE_TMPDIR/work/logs/$(name_of "$alg")"_*.log)
    grep -q "^result: $INBOX/result_" "$log"
    [ -f "$INBOX/logs/${log##*/}" ]
  done
  grep -q "experiments: 3 run, 3 done, 0 failed" "$FIRST"
  grep -q "inbox: $INBOX (3 result zips)" "$FIRST"
  [ -z "$(ls -A "$BATS_FILE_TMPDIR/work/experiments")" ]
}

@test "the meta-dataset table is built from the inbox" {
  [ -f "$REPO_ROOT/Experiment_handler/process_inbox.py" ] || skip "no process_inbox yet"
  grep -q "meta-dataset: $BATS_FILE_TMPDIR/work/meta_dataset.csv" "$FIRST"
  for zip in "$INBOX"/result_*.zip; do
    grep -q "${zip##*/}" "$BATS_FILE_TMPDIR/work/meta_dataset.csv"
  done
}

@test "running the batch again skips the experiments already in the inbox" {
  calls_before=$(recorded_calls | wc -l)
  run batch ALGORITHMS="TopPop Random GlobalEffects"
  [ "$status" -eq 0 ]
  assert_output_contains "skipped 3 experiments already in the inbox"
  assert_output_contains "experiments: 0 run"
  [ "$(recorded_calls | wc -l)" -eq "$calls_before" ]
  [ "$(result_zips "$INBOX" | wc -l)" -eq 3 ]
}

@test "a failing experiment is reported with its log, keeps its work folder, and the batch exits 1" {
  run batch ALGORITHMS="TopPop NoSuchAlgorithm"
  [ "$status" -eq 1 ]
  assert_output_contains "FAILED $(name_of NoSuchAlgorithm) (exit 2, log: $BATS_FILE_TMPDIR/work/logs/$(name_of NoSuchAlgorithm)_"
  assert_output_contains "experiments: 1 run, 0 done, 1 failed"
  grep -q "unknown algorithm 'NoSuchAlgorithm'" "$BATS_FILE_TMPDIR/work/logs/$(name_of NoSuchAlgorithm)"_*.log
  [ -d "$BATS_FILE_TMPDIR/work/experiments/$(name_of NoSuchAlgorithm)" ]
}

@test "Ctrl-C stops the batch and the Python processes of its experiments" {
  split=$BATS_TEST_TMPDIR/bucket/dataset-splits/splits-v1/SyntheticSmall/DataSplitter_leave_k_out_last
  mkdir -p "$split"
  echo '{}' >"$split/split.json"
  export STUB_PYTHON_DIR=$BATS_TEST_TMPDIR/python STUB_PYTHON_REAL=0 STUB_PYTHON_SLEEP=60
  RECZILLA_BUCKET=$BATS_TEST_TMPDIR/bucket WORK_DIR=$BATS_TEST_TMPDIR/work ALGORITHMS="TopPop Random GlobalEffects" \
    DATASETS=SyntheticSmall MAX_PARALLEL=2 start_in_own_group bash "$REPO_ROOT/scripts/example_local_script.sh"
  wait_until 30 has_python_calls 2
  kill -INT -- "-$STARTED_PID"
  status=0
  wait "$STARTED_PID" || status=$?
  [ "$status" -eq 130 ]
  for call in $(recorded_calls); do ! kill -0 "${call##*.}" 2>/dev/null || false; done
  [ "$(recorded_calls | wc -l)" -eq 2 ]
  grep -q "stopping 2 running experiments" "$BATS_TEST_TMPDIR/background.out"
  grep -q "experiments: 2 run, 0 done, 2 failed" "$BATS_TEST_TMPDIR/background.out"
  logs=$(ls "$BATS_TEST_TMPDIR/bucket/inbox/logs")
  [ "$(grep -c '^result_.*\.log$' <<<"$logs")" -eq 2 ] || { printf 'inbox logs:\n%s\nbatch output:\n' "$logs"; cat "$BATS_TEST_TMPDIR/background.out"; false; }
}

@test "bad settings and missing splits are errors before anything runs" {
  run batch RECZILLA_BACKEND=aws
  [ "$status" -eq 2 ]
  assert_output_contains "RECZILLA_BACKEND must be local, gcloud or gcloud-batch, not 'aws'"
  run batch MAX_PARALLEL=0
  [ "$status" -eq 2 ]
  assert_output_contains "MAX_PARALLEL must be a positive whole number"
  run batch NUM_SAMPLES=many
  [ "$status" -eq 2 ]
  assert_output_contains "NUM_SAMPLES must be a positive whole number, not 'many'"
  run batch TIME_LIMIT=0
  [ "$status" -eq 2 ]
  assert_output_contains "TIME_LIMIT must be a positive whole number, not '0'"
  run batch ALGORITHMS="TopPop ../evil"
  [ "$status" -eq 2 ]
  assert_output_contains "'../evil': names may hold only letters, digits and . _ -"
  run batch DATASETS="SyntheticSmall Movielen100K"
  [ "$status" -eq 2 ]
  assert_output_contains "error: unknown dataset 'Movielen100K'; did you mean Movielens100K "
  run batch DATASETS="syntheticsmall movielens100kreader"
  [ "$status" -eq 2 ]
  assert_output_contains "no DataSplitter_leave_k_out_last split in $BATS_FILE_TMPDIR/bucket/dataset-splits/splits-v1/ for: Movielens100K"
  assert_output_contains "python -m Data_manager.create_all_data_splits"
  run bash "$REPO_ROOT/scripts/demo.sh"
  [ "$status" -eq 2 ]
  assert_output_contains "usage: bash scripts/demo.sh DEMO_DIR"
}
