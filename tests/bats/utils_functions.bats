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
