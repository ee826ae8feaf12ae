#!/usr/bin/env bats
# run_experiment_on_instance.sh with a stand-in Python (tests/bats/stubs/recording-python).

load test_helper

setup() {
  common_setup
  export RECZILLA_PYTHON=recording-python RECZILLA_INBOX=$BATS_TEST_TMPDIR/bucket/inbox
  export SPLIT_PATH_ON_BUCKET=$BATS_TEST_TMPDIR/bucket/split
  mkdir -p "$SPLIT_PATH_ON_BUCKET"
  echo '{"dataset_name": "SyntheticSmall"}' >"$SPLIT_PATH_ON_BUCKET/split.json"
  echo train >"$SPLIT_PATH_ON_BUCKET/URM_train.npz"
  WORK=$BATS_TEST_TMPDIR/instance
  EXPECTED_ARGV=(60 SyntheticSmall DataSplitter_leave_k_out_last TopPop "$WORK/split" 0 1 2 "$WORK/result" exp-1
    "$SPLIT_PATH_ON_BUCKET")
  export ARGS="${EXPECTED_ARGV[*]}"
  SCRIPT=$REPO_ROOT/scripts/run_experiment_on_instance.sh
}

@test "a missing ARGS is an error, and nothing runs" {
  unset ARGS
  run bash "$SCRIPT"
  [ "$status" -eq 1 ]
  assert_output_contains "error: ARGS is not set"
  [ -z "$(recorded_calls)" ]
}

@test "a missing SPLIT_PATH_ON_BUCKET is an error, and nothing runs" {
  unset SPLIT_PATH_ON_BUCKET
  run bash "$SCRIPT"
  [ "$status" -eq 1 ]
  assert_output_contains "error: SPLIT_PATH_ON_BUCKET is not set"
  [ -z "$(recorded_calls)" ]
}

@test "ARGS must hold the 11 arguments of run_experiment" {
  ARGS="60 SyntheticSmall DataSplitter_leave_k_out_last TopPop split 0 1 2 result exp-1" run bash "$SCRIPT"
  [ "$status" -eq 1 ]
  assert_output_contains "ARGS holds 10 arguments, Experiment_handler.run_experiment takes 11"
  [ "${#lines[@]}" -eq 1 ]
  ARGS="60 'unbalanced" run bash "$SCRIPT"
  [ "$status" -eq 1 ]
  [ "${#lines[@]}" -eq 1 ] # no Python traceback
  assert_output_contains "error: ARGS is not a valid argument string (No closing quotation): 60 'unbalanced"
  [ -z "$(recorded_calls)" ]
}

@test "success: split copied, result renamed and put in the inbox with its log and done marker" {
  run bash "$SCRIPT"
  [ "$status" -eq 0 ]
  cmp "$SPLIT_PATH_ON_BUCKET/URM_train.npz" "$WORK/split/URM_train.npz"
  read_argv "$(recorded_calls)"
  assert_equal "${ARGV[*]}" "${EXPECTED_ARGV[*]}"
  [ "${#ARGV[@]}" -eq 11 ]
  assert_equal "$(ls "$RECZILLA_INBOX" | wc -l)" 3 # the zip, done/, logs/
  zip=$(result_zips "$RECZILLA_INBOX")
  [ -n "$zip" ]
  id=${zip%.zip}
  assert_equal "$(cat "$RECZILLA_INBOX/$id.zip")" "stand-in result of ${EXPECTED_ARGV[*]}"
  assert_equal "$(cat "$RECZILLA_INBOX/done/exp-1.done")" "$id.zip"
  [ -f "$WORK/result/$id.zip" ] && [ ! -e "$WORK/result/result.zip" ]
  grep -q "experiment exp-1 on .*, result $id" "$RECZILLA_INBOX/logs/$id.log"
  assert_output_contains "result: $RECZILLA_INBOX/$id.zip"
}

@test "a reference-style ARGS (plain words, a newline) is split into the same arguments" {
  ARGS="  60 SyntheticSmall DataSplitter_leave_k_out_last TopPop $WORK/split 0 1 2
    $WORK/result exp-1 $SPLIT_PATH_ON_BUCKET" run bash "$SCRIPT"
  [ "$status" -eq 0 ]
  read_argv "$(recorded_calls)"
  assert_equal "${ARGV[*]}" "${EXPECTED_ARGV[*]}"
}

@test "gs:// split and inbox go through gsutil" {
  mkdir -p "$FAKE_GCS/b/splits/S"
  cp "$SPLIT_PATH_ON_BUCKET"/* "$FAKE_GCS/b/splits/S/"
  SPLIT_PATH_ON_BUCKET=gs://b/splits/S RECZILLA_INBOX=gs://b/inbox run bash "$SCRIPT"
  [ "$status" -eq 0 ]
  cmp "$FAKE_GCS/b/splits/S/URM_train.npz" "$WORK/split/URM_train.npz"
  mapfile -t calls <"$STUB_LOG"
  [ "${#calls[@]}" -eq 4 ]
  assert_equal "${calls[0]}" "$(call_line gsutil -m cp 'gs://b/splits/S/*' "$WORK/split/")"
  id=$(result_zips "$FAKE_GCS/b/inbox")
  [ -n "$id" ]
  assert_equal "${calls[1]}" "$(call_line gsutil -q cp "$WORK/result/$id" "gs://b/inbox/$id")"
  [[ ${calls[2]} == "gsutil -q cp "*" gs://b/inbox/done/exp-1.done" ]]
  [[ ${calls[3]} == "gsutil -q cp "*" gs://b/inbox/logs/${id%.zip}.log" ]]
  [ -f "$FAKE_GCS/b/inbox/logs/${id%.zip}.log" ]
}

@test "a failed experiment: non-zero exit, only the log in the inbox, result.zip kept to resume" {
  STUB_PYTHON_EXIT=1 run bash "$SCRIPT"
  [ "$status" -eq 1 ]
  [ -z "$(result_zips "$RECZILLA_INBOX")" ]
  [ ! -e "$RECZILLA_INBOX/done" ]
  grep -q "the experiment failed (exit 1)" "$RECZILLA_INBOX"/logs/result_*.log
  [ -f "$WORK/result/result.zip" ]
}

@test "a split_dir that is not a split is never overwritten" {
  mkdir -p "$WORK/split"
  echo precious >"$WORK/split/notes.txt"
  run bash "$SCRIPT"
  [ "$status" -eq 1 ]
  assert_output_contains "split_dir $WORK/split is not empty and holds no split.json: not overwriting it"
  assert_equal "$(cat "$WORK/split/notes.txt")" precious
  [ -z "$(recorded_calls)" ]
}

@test "an earlier split copy is replaced (an ssh retry, a reused instance)" {
  mkdir -p "$WORK/split"
  echo old >"$WORK/split/split.json"
  echo stale >"$WORK/split/metafeatures.json"
  run bash "$SCRIPT"
  [ "$status" -eq 0 ]
  [ ! -e "$WORK/split/metafeatures.json" ]
  cmp "$SPLIT_PATH_ON_BUCKET/split.json" "$WORK/split/split.json"
}

@test "a split that cannot be copied is an error" {
  SPLIT_PATH_ON_BUCKET=$BATS_TEST_TMPDIR/nowhere run bash "$SCRIPT"
  [ "$status" -eq 1 ]
  assert_output_contains "could not copy the split from $BATS_TEST_TMPDIR/nowhere"
  STUB_FAIL_CP=1 SPLIT_PATH_ON_BUCKET=gs://b/splits/S run bash "$SCRIPT"
  [ "$status" -eq 1 ]
  assert_output_contains "could not copy the split from gs://b/splits/S"
  [ -z "$(recorded_calls)" ]
}

@test "RECZILLA_ACTIVATE is sourced with RECZILLA_CONDA_ENV before Python runs" {
  echo 'export ACTIVATED_ENV="env:$1"' >activate
  RECZILLA_ACTIVATE=$BATS_TEST_TMPDIR/activate RECZILLA_CONDA_ENV=reczilla run bash "$SCRIPT"
  [ "$status" -eq 0 ]
  assert_equal "$(cat "$(recorded_calls)/activated")" "env:reczilla"
  RECZILLA_ACTIVATE=$BATS_TEST_TMPDIR/missing run bash "$SCRIPT"
  [ "$status" -eq 1 ]
  assert_output_contains "RECZILLA_ACTIVATE=$BATS_TEST_TMPDIR/missing is not a file"
}

@test "TERM stops the experiment's Python and still uploads the log" {
  STUB_PYTHON_SLEEP=60 start_in_own_group bash "$SCRIPT"
  wait_until 20 test -s "$STUB_PYTHON_DIR/events"
  call=$(recorded_calls)
  kill -TERM "$STARTED_PID"
  status=0
  wait "$STARTED_PID" || status=$?
  [ "$status" -eq 143 ]
  ! kill -0 "${call##*.}" 2>/dev/null || false
  [ "$(ls "$RECZILLA_INBOX"/logs/result_*.log | wc -l)" -eq 1 ]
  [ -z "$(result_zips "$RECZILLA_INBOX")" ]
}
