#!/usr/bin/env bats
# The gcloud backend end to end on a "fake cloud": the stand-in gcloud runs `ssh --command` here
# and the stand-in gsutil maps gs:// to a folder, so example_local_script.sh -> utils.sh ->
# run_experiment_on_instance.sh -> Python -> inbox -> process_inbox all run for real.

load test_helper

fake_cloud_batch() {
  env RECZILLA_BACKEND=gcloud RECZILLA_BUCKET=gs://fake-bucket STUB_SSH=run RECZILLA_GCE_REPO_DIR="$REPO_ROOT" \
    RECZILLA_GCE_WORK_DIR="$BATS_TEST_TMPDIR/instance" RECZILLA_GCE_ACTIVATE="$REPO_ROOT/.venv/bin/activate" \
    RECZILLA_GCE_CONDA_ENV="" WORK_DIR="$BATS_TEST_TMPDIR/launcher" ALGORITHMS=TopPop DATASETS=SyntheticSmall \
    NUM_SAMPLES=1 TIME_LIMIT=120 EXPERIMENT_BASE=cloud bash "$REPO_ROOT/scripts/example_local_script.sh"
}

setup() {
  common_setup
  [ -f "$REPO_ROOT/.venv/bin/activate" ] || skip "no .venv (run make build)"
}

@test "a gcloud batch on SyntheticSmall: split uploaded, experiment run on the instance, result in the inbox" {
  run fake_cloud_batch
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  bucket=$FAKE_GCS/fake-bucket
  [ -f "$bucket/dataset-splits/splits-v1/SyntheticSmall/DataSplitter_leave_k_out_last/split.json" ]
  [ "$(count_calls "gsutil -q cp $BATS_TEST_TMPDIR/launcher/splits/SyntheticSmall/")" -ge 3 ]
  [ "$(count_calls "gcloud compute instances create")" -eq 1 ]
  [ "$(count_calls "gcloud compute ssh")" -eq 1 ]
  [ "$(count_calls "gcloud compute instances delete")" -eq 1 ]
  mapfile -t zips < <(result_zips "$bucket/inbox")
  [ "${#zips[@]}" -eq 1 ]
  zip_id=${zips[0]}
  name=cloud_SyntheticSmall_DataSplitter_leave_k_out_last_TopPop_seeds0-0_n1
  assert_equal "$(zip_summary "$bucket/inbox/$zip_id")" "complete TopPop $name"
  assert_equal "$(cat "$bucket/inbox/done/$name.done")" "$zip_id"
  [ -f "$bucket/inbox/logs/${zip_id%.zip}.log" ]
  ls "$bucket/inbox/logs/${name}"_*.log
  if [ -f "$REPO_ROOT/Experiment_handler/process_inbox.py" ]; then
    grep -q "$zip_id" "$BATS_TEST_TMPDIR/launcher/meta_dataset.csv"
  fi

  run fake_cloud_batch
  [ "$status" -eq 0 ]
  assert_output_contains "skipped 1 experiments already in the inbox"
  [ "$(count_calls "gcloud compute instances create")" -eq 1 ]
}
