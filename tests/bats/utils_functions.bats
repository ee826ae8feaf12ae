#!/usr/bin/env bats
# The helpers of scripts/utils.sh.

load test_helper

setup() {
  common_setup
}

@test "wait_until_processes_finish N returns once at most N background jobs run" {
  run utils eval 'sleep 0.3 & sleep 0.3 & sleep 5 & wait_until_processes_finish 1; jobs -rp | wc -l; kill %3'
  [ "$status" -eq 0 ]
  [ "$output" -eq 1 ]
}

@test "random_alg and random_dataset pick from the reference lists" {
  run utils eval 'for _ in 1 2 3 4 5; do random_alg; random_dataset; done; echo "${RECZILLA_ALGORITHMS[*]}"; echo "${RECZILLA_DATASETS[*]}"'
  [ "$status" -eq 0 ]
  [ "${#lines[@]}" -eq 12 ]
  for i in 0 2 4 6 8; do [[ " ${lines[10]} " == *" ${lines[i]} "* ]]; done
  for i in 1 3 5 7 9; do [[ " ${lines[11]} " == *" ${lines[i]} "* ]]; done
  [[ " ${lines[10]} " == *" ItemKNNCF_cosine "* && " ${lines[11]} " == *" Movielens100K "* ]]
}

@test "bucket_list lists a local folder and a gs:// one, and nothing for a missing one" {
  mkdir -p local "$FAKE_GCS/b/inbox/done"
  touch local/a.done local/b.done "$FAKE_GCS/b/inbox/done/c.done"
  assert_equal "$(utils bucket_list local)" "$(printf 'a.done\nb.done')"
  assert_equal "$(utils bucket_list gs://b/inbox/done)" "c.done"
  assert_equal "$(utils bucket_list missing)" ""
  assert_equal "$(utils bucket_list gs://b/missing)" ""
}

@test "split_path follows the bucket layout" {
  RECZILLA_BUCKET=gs://b RECZILLA_SPLITS_VERSION=splits-v5 run utils split_path Movielens100K DataSplitter_leave_k_out_last
  assert_equal "$output" "gs://b/dataset-splits/splits-v5/Movielens100K/DataSplitter_leave_k_out_last"
}

@test "done_marker_name encodes every byte outside A-Z a-z 0-9 . _ -" {
  assert_equal "$(utils done_marker_name 'ok-Name_1.2')" "ok-Name_1.2.done"
  assert_equal "$(utils done_marker_name $'a/b c;é\n')" "a%2Fb%20c%3B%C3%A9%0A.done"
  assert_equal "$(utils done_marker_name '..')" "...done"
  long=$(printf 'n%.0s' {1..300})
  assert_equal "$(utils done_marker_name "$long")" "${long:0:150}-$(printf %s "$long" | sha256sum | cut -c1-16).done"
}

@test "a worker's EXIT trap runs whenever a second TERM arrives after the first (the local backend sends two)" {
  # As on the local backend: a subshell with trap_signals runs a script with trap_signals and an
  # EXIT trap (run_experiment_on_instance.sh uploads its log there); TERM to their process group,
  # then the subshell's run_child passes TERM on. That second TERM lands at a random moment, at
  # times while the script runs run_child's `exit`, the moment to survive: 200 rounds to meet it.
  cat >worker.sh <<'SCRIPT'
set -euo pipefail
source "$1/scripts/utils.sh"
out=$2
trap 'echo cleaned >>"$out"' EXIT
trap_signals
run_child bash -c 'echo started >>"$0"; exec sleep 30' "$out"
SCRIPT
  local round tries status
  for ((round = 1; round <= 200; round++)); do
    : >out
    start_in_own_group bash -c 'source "$0/scripts/utils.sh"; trap : TERM; (trap_signals; run_child bash worker.sh "$0" out)' "$REPO_ROOT"
    for ((tries = 0; tries < 500; tries++)); do [[ -s out ]] && break; sleep 0.01; done
    kill -TERM -- "-$STARTED_PID"
    status=0
    wait "$STARTED_PID" || status=$?
    assert_equal "$status $(tr '\n' ' ' <out)" "143 started cleaned " || { echo "round $round"; false; }
  done
}
