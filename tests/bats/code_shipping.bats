#!/usr/bin/env bats
# The checkout's code on the VMs (code_shipping.sh, vm_install.sh, vm_task.sh): packaged from a
# clean clone, uploaded once, refused when dirty; installed on a "VM" (this machine, with the
# stand-in gcloud) into a fresh venv whose package records the clone's commit, by the gcloud
# backend's own ssh command; a second VM reuses the wheel the first one built.
# The fresh venvs see the project venv's dependencies through a .pth file and pip runs with
# --no-index: tests never reach PyPI. The wheel's compile (about a minute) happens once.

load test_helper

setup_file() {
  export CLONE=$BATS_FILE_TMPDIR/clone
  git clone -q "$REPO_ROOT" "$CLONE"
  git -C "$CLONE" -c user.name=t -c user.email=t@t commit -q --allow-empty -m "a commit of the clone's own"
}

setup() {
  common_setup
  export RECZILLA_BUCKET=gs://fake-bucket RECZILLA_STORAGE_CLI=auto
}

ship() { bash -c 'source "$0/scripts/utils.sh" && ship_code' "$CLONE"; }

fresh_vm() {
  # fresh_vm DIR: a VM folder whose venv (for the code folder $1/code-<id>) is new and empty but
  # for a .pth to the project venv's site-packages (the dependencies PyPI would give).
  local code_dir=$1/code-$2 site
  "$REPO_ROOT/.venv/bin/python" -m venv "$code_dir/venv"
  site=$("$REPO_ROOT/.venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  "$code_dir/venv/bin/python" -c 'import sysconfig, sys; open(sysconfig.get_paths()["purelib"] + "/deps.pth", "w").write(sys.argv[1] + "\n")' "$site"
}

@test "ship_code uploads git archive of HEAD once, naming the commit; a dirty tree is refused unless allowed" {
  run ship
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  head=$(git -C "$CLONE" rev-parse HEAD)
  version=$(sed -n 's/^__version__ = "\(.*\)"$/\1/p' "$REPO_ROOT/Data_manager/version.py")
  [ "${lines[-1]}" = "gs://fake-bucket/code/$version+${head:0:12}" ]
  tarball=$FAKE_GCS/fake-bucket/code/$version+${head:0:12}/source.tar.gz
  tar -xzOf "$tarball" reczilla-metadata/Data_manager/build_info.json | grep -q "\"git_commit\": \"$head\""
  tar -tzf "$tarball" | grep -qx reczilla-metadata/scripts/vm_task.sh
  [ "$(count_calls "gcloud storage cp")" -eq 1 ]
  run ship
  [ "$(count_calls "gcloud storage cp")" -eq 1 ] # already there: not uploaded again

  echo "# local change" >>"$CLONE/README.md"
  run ship
  [ "$status" -eq 1 ]
  assert_output_contains "the checkout has uncommitted changes (git status): commit them"
  RECZILLA_ALLOW_DIRTY=1 run ship
  [ "$status" -eq 0 ]
  assert_output_contains "warning: shipping uncommitted changes as $head+dirty."
  [[ ${lines[-1]} == "gs://fake-bucket/code/$version+${head:0:12}.dirty."* ]]
  tar -xzOf "$FAKE_GCS/${lines[-1]#gs://}/source.tar.gz" reczilla-metadata/README.md | tail -n1 | grep -q "# local change"
  git -C "$CLONE" checkout -q README.md
}

@test "the gcloud backend's VM installs the shipped code in a fresh venv, records the clone's commit; a second VM reuses the wheel" {
  [ -x "$REPO_ROOT/.venv/bin/python" ] || skip "no .venv (run make build)"
  head=$(git -C "$CLONE" rev-parse HEAD)
  # the split in the bucket
  "$REPO_ROOT/.venv/bin/python" -m Data_manager.create_all_data_splits --data-dir data --splits-dir splits \
    --datasets SyntheticSmall --splitters DataSplitter_leave_k_out_last >/dev/null
  split=gs://fake-bucket/dataset-splits/splits-v1/SyntheticSmall/DataSplitter_leave_k_out_last
  mkdir -p "$FAKE_GCS/${split#gs://}" && cp splits/SyntheticSmall/DataSplitter_leave_k_out_last/* "$FAKE_GCS/${split#gs://}/"
  code=$(ship 2>/dev/null)
  export RECZILLA_BACKEND=gcloud RECZILLA_CODE_URL=$code STUB_SSH=run RECZILLA_PIP_ARGS="--no-index --no-build-isolation"
  for vm in 1 2; do
    fresh_vm "$BATS_TEST_TMPDIR/vm$vm" "${code##*/}"
    args=$(bash -c 'source "$0/scripts/utils.sh" && quote_args "$@"' "$REPO_ROOT" 60 SyntheticSmall \
      DataSplitter_leave_k_out_last TopPop "$BATS_TEST_TMPDIR/vm$vm/split" 0 0 1 "$BATS_TEST_TMPDIR/vm$vm/result" \
      "shipped-$vm" "$split")
    RECZILLA_VM_DIR=$BATS_TEST_TMPDIR/vm$vm run bash -c 'source "$0/scripts/utils.sh" && run_experiment "$1" "$2" vm-'"$vm" \
      "$CLONE" "$args" "$split"
    [ "$status" -eq 0 ] || { echo "$output"; false; }
    if [ "$vm" = 1 ]; then
      assert_output_contains "vm_install: building the wheel for cp"
    else
      assert_output_contains "vm_install: installing the wheel built for cp"
      [[ $output != *"building the wheel"* ]]
    fi
    python=$BATS_TEST_TMPDIR/vm$vm/code-${code##*/}/venv/bin/python
    # the package imports from the venv (not from a checkout) and names the clone's commit
    run "$python" -c 'import Data_manager.version as v; print(v.__file__); print(v.git_commit())'
    [[ ${lines[0]} == "$BATS_TEST_TMPDIR/vm$vm/code-${code##*/}/venv/"* ]]
    [ "${lines[1]}" = "$head" ]
    marker=$(cat "$FAKE_GCS/fake-bucket/inbox/done/shipped-$vm.done")
    run python3 -c 'import json, sys, zipfile; print(json.loads(zipfile.ZipFile(sys.argv[1]).read("metadata.json"))["environment"]["git_commit"])' \
      "$FAKE_GCS/fake-bucket/inbox/$marker"
    [ "$output" = "$head" ]
  done
  wheels=$FAKE_GCS/${code#gs://}/wheels
  ls "$wheels"/*/reczilla_metadata-*.whl "$wheels"/*/requirements.txt
  grep -q '^numpy==' "$wheels"/*/requirements.txt
}
