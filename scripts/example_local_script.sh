#!/usr/bin/env bash
# A batch of experiments: every algorithm of ALGORITHMS on every dataset of DATASETS, on this
# machine (RECZILLA_BACKEND=local, the default: at most MAX_PARALLEL at once), one GCE instance
# each (RECZILLA_BACKEND=gcloud; settings in utils.sh) or one Google Cloud Batch job
# (RECZILLA_BACKEND=gcloud-batch; settings in cloud_batch.sh). Both cloud backends ship this
# checkout's code to the VMs (code_shipping.sh).
#
#   ESTIMATE=1  prints the projected VM-hours and cost of the batch, per algorithm and in total
#               (Experiment_handler.estimate_cost), and runs nothing.
#   DRY_RUN=1   prints what would run (gcloud-batch: the task list and the job JSON) and
#               submits or uploads nothing.
#
#   bash scripts/example_local_script.sh
#   ALGORITHMS="TopPop Random" DATASETS=SyntheticSmall NUM_SAMPLES=2 bash scripts/example_local_script.sh
#
# Built-in datasets (Synthetic*) missing from the bucket are split and put there first; other
# datasets must already be there (Data_manager.create_all_data_splits, then copy).
# One log per experiment in LOG_DIR (copied to <bucket>/inbox/logs/ at the end); results go to
# <bucket>/inbox/. An experiment is identified by its name,
#   <EXPERIMENT_BASE>_<dataset>_<SPLIT_TYPE>_<algorithm>_seeds<ALG_SEED>-<PARAM_SEED>_n<NUM_SAMPLES>,
# and skipped when <bucket>/inbox/done/<name>.done exists (written with its result zip): running
# the batch again runs only what is missing (delete the .done file to run one again). The
# meta-dataset table is then rebuilt from the inbox (Experiment_handler.process_inbox).
# Exit status: 0 when every experiment succeeded, 1 otherwise (also when an instance may still be
# running: its delete failed, timed out or was interrupted; the summary names them, with the
# command that deletes them); 2 for a bad setting, before anything runs. Ctrl-C stops every
# experiment (and deletes every instance) before exiting.
#
# Fixed flaws of the reference batch scripts (run_all_experiments.sh and its copies): experiments
# were named by list position (editing a list renamed them); `mkdir logs` failed on a second run;
# one more job than MAX_PROCESSES ran; every instance was deleted twice; no progress, no summary,
# no way to resume a batch.
set -euo pipefail

# ---- The batch: edit the defaults here, or set the variables in the environment. ----
ALGORITHMS=${ALGORITHMS:-"TopPop GlobalEffects Random ItemKNNCF_cosine P3alphaRecommender"}
DATASETS=${DATASETS:-"SyntheticSmall Synthetic"}
SPLIT_TYPE=${SPLIT_TYPE:-DataSplitter_leave_k_out_last}
ALG_SEED=${ALG_SEED:-0}
PARAM_SEED=${PARAM_SEED:-0}
NUM_SAMPLES=${NUM_SAMPLES:-5}         # hyperparameter samples per experiment, the default included
TIME_LIMIT=${TIME_LIMIT:-3600}        # seconds per experiment
EXPERIMENT_BASE=${EXPERIMENT_BASE:-example}
INSTANCE_BASE=${INSTANCE_BASE:-reczilla}          # gcloud: instances are <base>-<date>-<i>-<j>
WORK_DIR=${WORK_DIR:-$PWD/reczilla-work}          # local scratch: built-in datasets, running experiments
LOG_DIR=${LOG_DIR:-$WORK_DIR/logs}
META_DATASET=${META_DATASET:-$WORK_DIR/meta_dataset}  # process_inbox writes META_DATASET.csv
# MAX_PARALLEL: experiments at once [local: number of cores; gcloud: 10]. Each local experiment
# gets RECZILLA_THREADS = cores / MAX_PARALLEL threads (at least 1) unless RECZILLA_THREADS is set,
# and RECZILLA_MEMORY_LIMIT = the memory budget (80% of the memory) / MAX_PARALLEL bytes unless
# RECZILLA_MEMORY_LIMIT is set (then each experiment gets that). Cores and memory are those this
# process may use: CPU affinity and cgroup limits count (Data_manager.machine_resources).

SCRIPTS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(dirname "$SCRIPTS_DIR")
# shellcheck source=scripts/utils.sh
source "$SCRIPTS_DIR/utils.sh"

die() {
  reczilla_error "$*"
  exit 2
}

read -r -a algorithms <<<"$ALGORITHMS"
read -r -a datasets <<<"$DATASETS"
((${#algorithms[@]} > 0)) || die "ALGORITHMS is empty"
((${#datasets[@]} > 0)) || die "DATASETS is empty"
for var in ALG_SEED PARAM_SEED; do
  [[ ${!var} =~ ^[0-9]+$ ]] || die "$var must be a whole number, not '${!var}'"
done
for var in NUM_SAMPLES TIME_LIMIT; do # 0 would make every experiment fail (on gcloud: one paid instance each)
  [[ ${!var} =~ ^0*[1-9][0-9]*$ ]] || die "$var must be a positive whole number, not '${!var}'"
done
for name in "${algorithms[@]}" "${datasets[@]}" "$SPLIT_TYPE" "$EXPERIMENT_BASE"; do
  # they make up experiment and log file names
  [[ $name =~ ^[A-Za-z0-9_.-]+$ ]] || die "'$name': names may hold only letters, digits and . _ -"
done
python=${RECZILLA_PYTHON:-python3}
# dataset names as the registry spells them (any case, with or without "Reader"); unknown: exit 2
canonical=$(PYTHONPATH="$REPO_DIR${PYTHONPATH:+:$PYTHONPATH}" "$python" -c 'import sys
from Data_manager.datasets import UnknownDataset, canonical_dataset_name
try:
    print(" ".join(canonical_dataset_name(name) for name in sys.argv[1:]))
except UnknownDataset as error:
    sys.exit(f"error: {error}")' "${datasets[@]}") || exit 2
read -r -a datasets <<<"$canonical"
local_resources() {
  # Sets cores and memory_budget: the CPUs and the memory budget (80% of the memory) of this
  # machine as Python sees them, honouring CPU affinity and cgroup limits (Data_manager.machine_resources).
  local resources
  resources=$(PYTHONPATH="$REPO_DIR${PYTHONPATH:+:$PYTHONPATH}" "$python" -m Data_manager.machine_resources) ||
    die "could not detect this machine's CPUs and memory (python -m Data_manager.machine_resources)"
  read -r cores _ memory_budget <<<"$resources"
}

case $RECZILLA_BACKEND in
  local)
    local_resources
    MAX_PARALLEL=${MAX_PARALLEL:-$cores}
    mkdir -p -- "$RECZILLA_BUCKET"
    RECZILLA_BUCKET=$(cd -- "$RECZILLA_BUCKET" && pwd) # the paths in ARGS are absolute
    ;;
  gcloud | gcloud-batch)
    MAX_PARALLEL=${MAX_PARALLEL:-10}
    [[ $INSTANCE_BASE =~ ^[a-z][-a-z0-9]{0,30}$ ]] || die "INSTANCE_BASE must be lowercase letters, digits and hyphens, starting with a letter (at most 31)"
    ;;
  *) die "RECZILLA_BACKEND must be local, gcloud or gcloud-batch, not '$RECZILLA_BACKEND'" ;;
esac
ESTIMATE=${ESTIMATE:-0} DRY_RUN=${DRY_RUN:-0}
[[ $ESTIMATE == [01] && $DRY_RUN == [01] ]] || die "ESTIMATE and DRY_RUN must be 0 or 1"
[[ $MAX_PARALLEL =~ ^[1-9][0-9]*$ ]] || die "MAX_PARALLEL must be a positive whole number, not '$MAX_PARALLEL'"
if [[ $RECZILLA_BACKEND == gcloud-batch ]]; then
  # shellcheck source=scripts/cloud_batch.sh
  source "$SCRIPTS_DIR/cloud_batch.sh"
  cloud_batch_check_settings || exit 2
fi
if [[ $RECZILLA_BACKEND == gcloud* && $ESTIMATE == 0 ]]; then
  RECZILLA_GCE_PROJECT=$(gce_project) || exit 2
  export RECZILLA_GCE_PROJECT
fi
if [[ $RECZILLA_BACKEND == local ]]; then
  # each of the MAX_PARALLEL experiments gets its share of the cores and of the memory budget
  export RECZILLA_THREADS=${RECZILLA_THREADS:-$((cores / MAX_PARALLEL > 0 ? cores / MAX_PARALLEL : 1))}
  export RECZILLA_MEMORY_LIMIT=${RECZILLA_MEMORY_LIMIT:-$((memory_budget / MAX_PARALLEL))}
fi
mkdir -p -- "$WORK_DIR" "$LOG_DIR"
WORK_DIR=$(cd -- "$WORK_DIR" && pwd)
stamp=$(date +%m%d%y-%H%M%S)
# instances that may still be running (a failed or interrupted delete), for the summary
export RECZILLA_LEFTOVER_INSTANCES=$WORK_DIR/leftover-instances-$stamp-$$
: >"$RECZILLA_LEFTOVER_INSTANCES"

# shellcheck disable=SC2317  # run by the traps below
on_signal() {
  # a second signal while the experiments stop cuts their instance deletes short (reported)
  trap 'echo "interrupted again: stopping the instance deletes too"; batch_terminate' HUP INT TERM
  echo "interrupted"
  if [[ $RECZILLA_BACKEND == gcloud-batch ]]; then cloud_batch_interrupt; else batch_stop; fi
  sync_logs "$LOG_DIR" || true
  batch_summary || true
  exit "$1"
}
trap 'on_signal 129' HUP
trap 'on_signal 130' INT
trap 'on_signal 143' TERM

echo "backend $RECZILLA_BACKEND, bucket $RECZILLA_BUCKET, at most $MAX_PARALLEL experiments at once${RECZILLA_THREADS:+ (RECZILLA_THREADS=$RECZILLA_THREADS, RECZILLA_MEMORY_LIMIT=$RECZILLA_MEMORY_LIMIT each)}"
echo "${#algorithms[@]} algorithms x ${#datasets[@]} datasets, $SPLIT_TYPE, $NUM_SAMPLES samples, time limit ${TIME_LIMIT}s, logs in $LOG_DIR"

# ---- Splits: put the missing built-in ones in the bucket; any other missing one is an error. ----
builtin=() missing=()
for dataset in "${datasets[@]}"; do
  bucket_exists "$(split_path "$dataset" "$SPLIT_TYPE")/split.json" && continue
  case $dataset in
    Synthetic*) builtin+=("$dataset") ;;
    *) missing+=("$dataset") ;;
  esac
done
if ((${#missing[@]} > 0)); then
  die "no $SPLIT_TYPE split in $RECZILLA_BUCKET/dataset-splits/$RECZILLA_SPLITS_VERSION/ for: ${missing[*]}." \
    "Write it with: python -m Data_manager.create_all_data_splits --data-dir DATA --splits-dir SPLITS --datasets ${missing[*]}" \
    "then copy SPLITS/* there."
fi
if ((${#builtin[@]} > 0)); then
  if ((ESTIMATE + DRY_RUN > 0)); then
    echo "making the $SPLIT_TYPE splits of ${builtin[*]} here (not put in the bucket: ESTIMATE/DRY_RUN)"
  else
    echo "putting the $SPLIT_TYPE splits of ${builtin[*]} in the bucket"
  fi
  PYTHONPATH="$REPO_DIR${PYTHONPATH:+:$PYTHONPATH}" "$python" -m Data_manager.create_all_data_splits \
    --data-dir "$WORK_DIR/datasets" --splits-dir "$WORK_DIR/splits" --datasets "${builtin[@]}" --splitters "$SPLIT_TYPE"
  for dataset in "${builtin[@]}"; do
    # cache the split's meta-features in it, so that no experiment has to compute them again
    PYTHONPATH="$REPO_DIR${PYTHONPATH:+:$PYTHONPATH}" "$python" -m Experiment_handler.metafeatures \
      "$WORK_DIR/splits/$dataset/$SPLIT_TYPE" >/dev/null
    if ((ESTIMATE + DRY_RUN == 0)); then
      bucket_put_folder "$WORK_DIR/splits/$dataset/$SPLIT_TYPE" "$(split_path "$dataset" "$SPLIT_TYPE")"
    fi
  done
fi
if [[ $RECZILLA_BACKEND == gcloud && -z $RECZILLA_GCE_REPO_DIR && $DRY_RUN == 0 && $ESTIMATE == 0 ]]; then
  RECZILLA_CODE_URL=$(ship_code) || exit 1
  export RECZILLA_CODE_URL
fi

# ---- Experiments. ----
local_split_info() {
  # local_split_info DATASET SPLIT_PATH: a local copy of the split's split.json (for ESTIMATE).
  local built=$WORK_DIR/splits/$1/$SPLIT_TYPE/split.json copy=$WORK_DIR/split-info/$1.split.json
  if [[ -f $built ]]; then
    printf '%s\n' "$built"
  elif [[ $2 != gs://* ]]; then
    printf '%s\n' "$2/split.json"
  else
    mkdir -p -- "${copy%/*}"
    [[ -f $copy ]] || gcs cp "$2/split.json" "$copy" >/dev/null 2>&1 || die "could not read $2/split.json"
    printf '%s\n' "$copy"
  fi
}

# shellcheck disable=SC2317  # run by batch_submit
run_and_clean() {
  # run_and_clean FOLDER COMMAND...: runs COMMAND, then removes FOLDER (its split copy and
  # result) when it succeeded; a failed experiment keeps it, to resume.
  local folder=$1
  shift
  "$@" && rm -rf -- "$folder"
}

declare -A finished=()
while IFS= read -r marker; do finished[$marker]=1; done < <(bucket_list "$RECZILLA_BUCKET/inbox/done")
skipped=0
for i in "${!algorithms[@]}"; do
  for j in "${!datasets[@]}"; do
    alg=${algorithms[i]} dataset=${datasets[j]}
    name=${EXPERIMENT_BASE}_${dataset}_${SPLIT_TYPE}_${alg}_seeds${ALG_SEED}-${PARAM_SEED}_n${NUM_SAMPLES}
    if [[ -n ${finished[$(done_marker_name "$name")]:-} ]]; then
      echo "skipped $name: its result is in the inbox"
      skipped=$((skipped + 1))
      continue
    fi
    split=$(split_path "$dataset" "$SPLIT_TYPE")
    if [[ $ESTIMATE == 1 ]]; then
      printf '%s\t%s\t%s\n' "$alg" "$dataset" "$(local_split_info "$dataset" "$split")" >>"$WORK_DIR/estimate-$stamp.tsv"
      continue
    fi
    case $RECZILLA_BACKEND in
      local) folder=$WORK_DIR/experiments/$name ;;
      gcloud) folder=$RECZILLA_GCE_WORK_DIR ;;
      gcloud-batch) folder=$RECZILLA_BATCH_WORK_DIR/$name ;;
    esac
    args=$(quote_args "$TIME_LIMIT" "$dataset" "$SPLIT_TYPE" "$alg" "$folder/split" "$ALG_SEED" "$PARAM_SEED" \
      "$NUM_SAMPLES" "$folder/result" "$name" "$split")
    log=$LOG_DIR/${name}_$stamp.log
    if [[ $RECZILLA_BACKEND == gcloud-batch ]]; then
      cloud_batch_add "$name" "$folder/result" "$args" "$split"
    elif [[ $DRY_RUN == 1 ]]; then
      echo "dry run: run_experiment $args $split"
    elif [[ $RECZILLA_BACKEND == local ]]; then
      batch_submit "$name" "$log" run_and_clean "$folder" run_experiment "$args" "$split" "local-$i-$j"
    else
      batch_submit "$name" "$log" run_experiment "$args" "$split" "$INSTANCE_BASE-$stamp-$i-$j"
    fi
  done
done

if [[ $ESTIMATE == 1 ]]; then
  if [[ ! -f $WORK_DIR/estimate-$stamp.tsv ]]; then echo "nothing to estimate: every experiment is in the inbox"; exit 0; fi
  estimate_args=(--experiments "$WORK_DIR/estimate-$stamp.tsv" --num-samples "$NUM_SAMPLES" --time-limit "$TIME_LIMIT"
    --machine-type "${RECZILLA_BATCH_MACHINE_TYPE:-$RECZILLA_GCE_MACHINE_TYPE}"
    --provisioning "$([[ $RECZILLA_BACKEND == gcloud-batch ]] && echo "$RECZILLA_BATCH_PROVISIONING" || echo STANDARD)"
    --backend "$RECZILLA_BACKEND")
  if [[ -n $(bucket_list "$RECZILLA_BUCKET/inbox") ]]; then estimate_args+=(--inbox "$RECZILLA_BUCKET/inbox"); fi
  if [[ -n ${RECZILLA_PRICE_PER_HOUR:-} ]]; then estimate_args+=(--price-per-hour "$RECZILLA_PRICE_PER_HOUR"); fi
  PYTHONPATH="$REPO_DIR${PYTHONPATH:+:$PYTHONPATH}" "$python" -m Experiment_handler.estimate_cost "${estimate_args[@]}"
  exit
fi
status=0
if [[ $RECZILLA_BACKEND == gcloud-batch ]]; then
  cloud_batch_run || status=1
else
  batch_wait || status=1
fi
if [[ $DRY_RUN == 1 ]]; then exit "$status"; fi
sync_logs "$LOG_DIR" || status=1
echo
batch_summary || status=1
[[ -s $RECZILLA_LEFTOVER_INSTANCES ]] || rm -f -- "$RECZILLA_LEFTOVER_INSTANCES"
echo "skipped $skipped experiments already in the inbox"
inbox=$RECZILLA_BUCKET/inbox
echo "inbox: $inbox ($(bucket_list "$inbox" | grep -c '^result_.*\.zip$' || true) result zips), logs in $inbox/logs"
if [[ -f $REPO_DIR/Experiment_handler/process_inbox.py ]]; then
  mkdir -p -- "$(dirname -- "$META_DATASET")"
  if PYTHONPATH="$REPO_DIR${PYTHONPATH:+:$PYTHONPATH}" "$python" -m Experiment_handler.process_inbox "$inbox" "$META_DATASET"; then
    echo "meta-dataset: $META_DATASET.csv"
  else
    status=1
  fi
fi
exit "$status"
