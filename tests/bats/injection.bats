#!/usr/bin/env bats
# Arguments holding ; $(...) backticks quotes or a newline reach the Python entry point verbatim,
# through `gcloud compute ssh --command` (run here by the stand-in, as the instance's shell would)
# or the local backend, and run nothing.

load test_helper

setup() {
  common_setup
  PWNED=$BATS_TEST_TMPDIR/pwned
  mkdir -p "$PWNED"
  EVIL_NAME="x; touch $PWNED/1 \$(touch $PWNED/2) \`touch $PWNED/3\` 'single' \"double\" \\\" * ~ && touch $PWNED/4
second line"
  EVIL_FOLDER="we;ird \$(touch $PWNED/5) 'q'"
  export RECZILLA_PYTHON=recording-python
  echo 'export ACTIVATED_ENV="$1"' >activate
}

expect_verbatim() {
  # expect_verbatim SPLIT_PATH: the experiment ran once with EXPECTED_ARGV and SPLIT_PATH, and
  # no payload ran.
  local call
  call=$(recorded_calls)
  [ -n "$call" ] && [ "$(wc -l <<<"$call")" -eq 1 ]
  read_argv "$call"
  [ "${#ARGV[@]}" -eq 11 ]
  for i in "${!EXPECTED_ARGV[@]}"; do assert_equal "${ARGV[i]}" "${EXPECTED_ARGV[i]}"; done
  assert_equal "$(cat "$call/split_path")" "$1"
  [ -z "$(ls -A "$PWNED")" ]
}

@test "gcloud backend: ARGS and the split path pass through ssh --command verbatim (login shell: sh)" {
  export RECZILLA_BACKEND=gcloud RECZILLA_BUCKET=gs://b RECZILLA_GCE_REPO_DIR=$REPO_ROOT STUB_SSH=run STUB_SSH_SHELL=sh \
    RECZILLA_GCE_ACTIVATE=$BATS_TEST_TMPDIR/activate RECZILLA_GCE_CONDA_ENV="env \$(touch $PWNED/6)"
  split="gs://b/$EVIL_FOLDER/split"
  mkdir -p "$FAKE_GCS/b/$EVIL_FOLDER/split"
  echo '{}' >"$FAKE_GCS/b/$EVIL_FOLDER/split/split.json"
  work=$BATS_TEST_TMPDIR/instance/$EVIL_FOLDER
  EXPECTED_ARGV=(60 SyntheticSmall DataSplitter_leave_k_out_last TopPop "$work/split" 0 0 1 "$work/result"
    "$EVIL_NAME" "$split")
  args=$(utils quote_args "${EXPECTED_ARGV[@]}")
  run utils run_experiment "$args" "$split" inst-1
  [ "$status" -eq 0 ]
  expect_verbatim "$split"
  assert_equal "$(cat "$(recorded_calls)/activated")" "env \$(touch $PWNED/6)"
  [ "$(result_zips "$FAKE_GCS/b/inbox" | wc -l)" -eq 1 ]
  [ -f "$FAKE_GCS/b/inbox/done/$(utils done_marker_name "$EVIL_NAME")" ]
  [ "$(count_calls "gcloud compute instances delete inst-1")" -eq 1 ]
}

@test "local backend: ARGS and the split path reach Python verbatim" {
  export RECZILLA_BACKEND=local RECZILLA_BUCKET=$BATS_TEST_TMPDIR/bucket
  split="$RECZILLA_BUCKET/$EVIL_FOLDER/split"
  mkdir -p "$split"
  echo '{}' >"$split/split.json"
  work=$BATS_TEST_TMPDIR/work/$EVIL_FOLDER
  EXPECTED_ARGV=(60 SyntheticSmall DataSplitter_leave_k_out_last TopPop "$work/split" 0 0 1 "$work/result"
    "$EVIL_NAME" "$split")
  args=$(utils quote_args "${EXPECTED_ARGV[@]}")
  run utils run_experiment "$args" "$split" worker-1
  [ "$status" -eq 0 ]
  expect_verbatim "$split"
  [ "$(result_zips "$RECZILLA_BUCKET/inbox" | wc -l)" -eq 1 ]
}

@test "quote_args output splits back (shlex) into exactly its arguments" {
  values=("" "'" '"' "a b" "\$(x)" "\`x\`" "a'b\"c" $'tab\there' $'new\nline' '\' '*' 'é')
  python3 -c 'import shlex, sys; sys.stdout.write("".join(a + "\0" for a in shlex.split(sys.argv[1])))' \
    "$(utils quote_args "${values[@]}")" >split.bin
  mapfile -d '' -t back <split.bin
  [ "${#back[@]}" -eq "${#values[@]}" ]
  for i in "${!values[@]}"; do assert_equal "${back[i]}" "${values[i]}"; done
}
