#!/usr/bin/env bash
# What `make demo` runs: a local batch (scripts/example_local_script.sh) of every registered
# algorithm that needs no optional extra (all but the neural ones) on the two built-in
# synthetic datasets, everything written under DEMO_DIR. Running it again skips the
# experiments already done.
#
#   bash scripts/demo.sh DEMO_DIR
set -euo pipefail

if (($# != 1)) || [[ -z $1 ]]; then
  echo "usage: bash scripts/demo.sh DEMO_DIR" >&2
  exit 2
fi
mkdir -p -- "$1"
demo_dir=$(cd -- "$1" && pwd)
scripts_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
python=${RECZILLA_PYTHON:-python3}

algorithms=$(PYTHONPATH="$(dirname "$scripts_dir")" "$python" -c \
  'from Recommenders.registry import algorithms_without_extras; print(" ".join(algorithms_without_extras()))')

status=0
RECZILLA_BACKEND=local RECZILLA_BUCKET=$demo_dir/bucket WORK_DIR=$demo_dir/work LOG_DIR=$demo_dir/logs \
  META_DATASET=$demo_dir/meta_dataset ALGORITHMS=$algorithms DATASETS="SyntheticSmall Synthetic" \
  NUM_SAMPLES=${NUM_SAMPLES:-3} TIME_LIMIT=${TIME_LIMIT:-120} EXPERIMENT_BASE=demo \
  bash "$scripts_dir/example_local_script.sh" || status=$?

echo
echo "result zips: $demo_dir/bucket/inbox/result_*.zip"
if [[ -f $demo_dir/meta_dataset.csv ]]; then
  echo "meta-dataset table: $demo_dir/meta_dataset.csv"
fi
exit "$status"
