#!/usr/bin/env bash
# What `make metalearn-demo` runs: the meta-learner end to end on built-in data.
#   1. a local batch (scripts/example_local_script.sh) of a few cheap algorithms on the 30
#      SyntheticZoo datasets -> DEMO_DIR/meta_dataset.csv;
#   2. leave-one-family-out evaluation of every meta-learner and the baselines
#      (ReczillaClassifier.evaluate) -> DEMO_DIR/evaluation/;
#   3. a meta-model trained on the whole zoo (ReczillaClassifier.run_reczilla --train_meta)
#      chooses, trains and evaluates an algorithm for SyntheticSmall, a dataset it never saw.
# Running it again skips the experiments already done.
#
#   bash scripts/metalearn_demo.sh DEMO_DIR
set -euo pipefail

if (($# != 1)) || [[ -z $1 ]]; then
  echo "usage: bash scripts/metalearn_demo.sh DEMO_DIR" >&2
  exit 2
fi
mkdir -p -- "$1"
demo_dir=$(cd -- "$1" && pwd)
scripts_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo_dir=$(dirname "$scripts_dir")
python=${RECZILLA_PYTHON:-python3}
export PYTHONPATH="$repo_dir${PYTHONPATH:+:$PYTHONPATH}"
metric=${TARGET_METRIC:-PRECISION_cut_10}
metamodel=${METAMODEL:-ranker}

zoo=$("$python" -c 'from Data_manager.synthetic import SYNTHETIC_ZOO; print(" ".join(SYNTHETIC_ZOO))')
RECZILLA_BACKEND=local RECZILLA_BUCKET=$demo_dir/bucket WORK_DIR=$demo_dir/work LOG_DIR=$demo_dir/logs \
  META_DATASET=$demo_dir/meta_dataset DATASETS=$zoo EXPERIMENT_BASE=metalearn \
  ALGORITHMS=${ALGORITHMS:-"TopPop ItemKNNCF_cosine UserKNNCF_cosine RP3betaRecommender PureSVDRecommender EASE_R_Recommender"} \
  NUM_SAMPLES=${NUM_SAMPLES:-3} TIME_LIMIT=${TIME_LIMIT:-120} \
  bash "$scripts_dir/example_local_script.sh" >"$demo_dir/batch.log"
echo "meta-dataset: $demo_dir/meta_dataset.csv (batch log: $demo_dir/batch.log)"
echo

"$python" -m ReczillaClassifier.evaluate "$demo_dir/meta_dataset.csv" --target_metric "$metric" \
  --seeds "${SEEDS:-3}" --out-dir "$demo_dir/evaluation"
echo

"$python" -m Data_manager.create_all_data_splits --data-dir "$demo_dir/work/datasets" \
  --splits-dir "$demo_dir/work/splits" --datasets SyntheticSmall --splitters DataSplitter_leave_k_out_last >/dev/null
"$python" -m ReczillaClassifier.run_reczilla --train_meta --metamodel_filepath "$demo_dir/metamodel" \
  --metadataset_name "$demo_dir/meta_dataset.csv" --metamodel_name "$metamodel" --target_metric "$metric" \
  --dataset_split_path "$demo_dir/work/splits/SyntheticSmall/DataSplitter_leave_k_out_last" \
  --rec_model_save_path "$demo_dir/chosen_recommender.json"
