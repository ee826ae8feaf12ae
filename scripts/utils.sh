# shellcheck shell=bash
# Functions for running batches of RecZilla experiments, on this machine or on Google Compute
# Engine. Load them with `source scripts/utils.sh`: sourcing only defines functions and fills in
# the settings below that the environment leaves unset.
#
# Settings (environment variables, default in brackets):
#   RECZILLA_BACKEND             local | gcloud | gcloud-batch [local]. local: the "instance" is a
#                                worker process on this machine and the bucket a folder; gcloud: a
#                                GCE instance per experiment and a Cloud Storage bucket;
#                                gcloud-batch: a Cloud Batch job per batch (cloud_batch.sh; a
#                                single run_experiment runs as on gcloud).
#   RECZILLA_BUCKET              [local: ./reczilla-bucket; gcloud: gs://reczilla-results]
#                                holds dataset-splits/<version>/<Dataset>/<Splitter>/ and
#                                inbox/ (result_*.zip, logs/, done/).
#   RECZILLA_SPLITS_VERSION      the <version> folder of the splits [splits-v1]
#   RECZILLA_GCE_PROJECT         [the gcloud CLI's project: gcloud config get-value project;
#                                none is an error]
#   RECZILLA_GCE_ZONE            [us-central1-a]
#   RECZILLA_GCE_IMAGE_FAMILY    [debian-12]; RECZILLA_GCE_IMAGE_PROJECT, the project holding it
#                                [debian-cloud for a debian-* family, else none: your project]
#   RECZILLA_GCE_MACHINE_TYPE    [n1-highmem-2]
#   RECZILLA_GCE_GPU_MACHINE_TYPE, RECZILLA_GCE_ACCELERATOR   for run_experiment_GPU
#                                [n1-highmem-16; type=nvidia-tesla-t4,count=1]
#   RECZILLA_GCE_SERVICE_ACCOUNT [none: --service-account is left out, the project's default
#                                compute service account runs the instance]
#   RECZILLA_GCE_SCOPES          [https://www.googleapis.com/auth/devstorage.read_write]
#   RECZILLA_GCE_REPO_DIR        [none: the launching checkout's code is shipped to the bucket and
#                                installed on the instance, see code_shipping.sh] set: this
#                                repository is already on the image there (built by hand)
#   RECZILLA_GCE_WORK_DIR        the instance's folder for the split and the result [/home/shared]
#   RECZILLA_GCE_ACTIVATE, RECZILLA_GCE_CONDA_ENV   with RECZILLA_GCE_REPO_DIR: the environment
#                                activated on the instance [/home/shared/miniconda3/bin/activate;
#                                reczilla] (empty: none)
#   RECZILLA_STORAGE_CLI         auto | gcloud | gsutil [auto: gcloud storage when gcloud exists]
#   RECZILLA_GCE_CREATE_TRIES, RECZILLA_GCE_SSH_TRIES   [5; 2]
#   RECZILLA_GCE_CREATE_RETRY_WAIT, RECZILLA_GCE_SSH_RETRY_WAIT, RECZILLA_GCE_SSH_WAIT
#                                seconds before a new create, a new ssh, the first ssh [5; 30; 10]
#   RECZILLA_GCE_DELETE_TIMEOUT  seconds an instance delete may take before it is given up [300]
#   RECZILLA_LEFTOVER_INSTANCES  a file to which every instance that may still be running (its
#                                delete failed, timed out or was interrupted) is appended, one
#                                name a line (the batch script sets it and reports them) [none]
#
# Fixed flaws of the reference scripts/utils.sh (naszilla/reczilla):
# - project, zone, bucket, service account and machine type were hard-coded;
# - ARGS was pasted inside double quotes into `gcloud compute ssh --command`, so `$(...)`, backticks
#   or a quote in an argument ran on the instance: every value is now single-quoted (quote_args:
#   the equivalent of printf %q that any login shell reads, where %q may write bash-only $'...');
# - instance deletion: the RETURN trap leaked into the caller, Ctrl-C and TERM left the instance
#   running, a failed ssh deleted it twice and the batch's EXIT trap a third time; now the worker
#   deletes it exactly once, on every exit path;
# - delete_instances received an array's name and deleted an instance called "instance_list";
# - wait_until_processes_finish N let N + 1 jobs run; failed attempts were numbered n + 1;
# - `printf Y | gcloud ... delete` is `--quiet`; ssh no longer forwards your SSH agent (-A);
# - a failed delete was only printed: it is now a non-zero exit and, in a batch, a line of the
#   summary with the command to delete what may be left; a hanging delete is bounded and stops
#   on Ctrl-C/TERM; ARGS is checked (quoting, 11 arguments) before any instance is created.

RECZILLA_SCRIPTS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=scripts/code_shipping.sh
source "$RECZILLA_SCRIPTS_DIR/code_shipping.sh"

: "${RECZILLA_BACKEND:=local}"
if [[ $RECZILLA_BACKEND == gcloud* ]]; then
  : "${RECZILLA_BUCKET:=gs://reczilla-results}"
else
  : "${RECZILLA_BUCKET:=$PWD/reczilla-bucket}"
fi
: "${RECZILLA_SPLITS_VERSION:=splits-v1}"
: "${RECZILLA_GCE_PROJECT:=}"
: "${RECZILLA_GCE_ZONE:=us-central1-a}"
: "${RECZILLA_GCE_IMAGE_FAMILY:=debian-12}"
if [[ $RECZILLA_GCE_IMAGE_FAMILY == debian-* ]]; then
  : "${RECZILLA_GCE_IMAGE_PROJECT=debian-cloud}"
else
  : "${RECZILLA_GCE_IMAGE_PROJECT=}"
fi
: "${RECZILLA_GCE_MACHINE_TYPE:=n1-highmem-2}"
: "${RECZILLA_GCE_GPU_MACHINE_TYPE:=n1-highmem-16}"
: "${RECZILLA_GCE_ACCELERATOR:=type=nvidia-tesla-t4,count=1}"
: "${RECZILLA_GCE_SERVICE_ACCOUNT:=}"
: "${RECZILLA_GCE_SCOPES:=https://www.googleapis.com/auth/devstorage.read_write}"
: "${RECZILLA_GCE_REPO_DIR:=}"
: "${RECZILLA_GCE_WORK_DIR:=/home/shared}"
: "${RECZILLA_GCE_ACTIVATE=/home/shared/miniconda3/bin/activate}"
: "${RECZILLA_GCE_CONDA_ENV=reczilla}"
: "${RECZILLA_GCE_CREATE_TRIES:=5}"
: "${RECZILLA_GCE_SSH_TRIES:=2}"
: "${RECZILLA_GCE_CREATE_RETRY_WAIT:=5}"
: "${RECZILLA_GCE_SSH_RETRY_WAIT:=30}"
: "${RECZILLA_GCE_SSH_WAIT:=10}"
: "${RECZILLA_GCE_DELETE_TIMEOUT:=300}"

# The reference RecZilla lists (the neural algorithms need the `neural` extra, PyTorch).
RECZILLA_ALGORITHMS=(
  ItemKNNCF_asymmetric ItemKNNCF_tversky ItemKNNCF_euclidean ItemKNNCF_cosine ItemKNNCF_jaccard ItemKNNCF_dice
  UserKNNCF_asymmetric UserKNNCF_tversky UserKNNCF_euclidean UserKNNCF_cosine UserKNNCF_jaccard UserKNNCF_dice
  TopPop GlobalEffects Random P3alphaRecommender RP3betaRecommender
  MatrixFactorization_FunkSVD_Cython MatrixFactorization_AsySVD_Cython MatrixFactorization_BPR_Cython
  IALSRecommender PureSVDRecommender NMFRecommender SLIM_BPR_Cython SLIMElasticNetRecommender
  EASE_R_Recommender INeuRec_RecommenderWrapper UNeuRec_RecommenderWrapper SpectralCF_RecommenderWrapper
  Mult_VAE_RecommenderWrapper DELF_MLP_RecommenderWrapper DELF_EF_RecommenderWrapper MFBPR_Wrapper
  CoClustering SlopeOne
)
RECZILLA_DATASETS=(
  Anime BookCrossing CiaoDVD Dating Epinions FilmTrust Frappe GoogleLocalReviews Gowalla Jester2 LastFM
  MarketBiasAmazon MarketBiasModCloth MovieTweetings Movielens100K Movielens10M Movielens1M Movielens20M
  MovielensHetrec2011 NetflixPrize Recipes Wikilens
)

random_alg() {
  # Prints a random name of RECZILLA_ALGORITHMS.
  printf '%s\n' "${RECZILLA_ALGORITHMS[RANDOM % ${#RECZILLA_ALGORITHMS[@]}]}"
}

random_dataset() {
  # Prints a random name of RECZILLA_DATASETS.
  printf '%s\n' "${RECZILLA_DATASETS[RANDOM % ${#RECZILLA_DATASETS[@]}]}"
}

reczilla_error() {
  printf 'error: %s\n' "$*" >&2
}

gce_project() {
  # Prints RECZILLA_GCE_PROJECT, or else the gcloud CLI's project; fails when there is none.
  local project=$RECZILLA_GCE_PROJECT
  if [[ -z $project ]]; then project=$(gcloud config get-value project 2>/dev/null) || project=""; fi
  if [[ -z $project || $project == "(unset)" ]]; then
    reczilla_error "no GCP project: run 'gcloud config set project MY_PROJECT' or set RECZILLA_GCE_PROJECT"
    return 2
  fi
  printf '%s\n' "$project"
}

# ---------------------------------------------------------------------------------------------
# Children that stop with their parent. A shell waiting for a foreground child runs its traps
# only once the child ends, and background children of a script ignore Ctrl-C: so long commands
# run in the background, and a signal is passed on to them as TERM. The handler itself never
# waits (bash can hang in a `wait` inside a trap that interrupted a `wait`): run_child does.

_reczilla_child=""
_reczilla_signal=0

run_child() {
  # Runs "$@" as a child and returns its exit status; after a signal (trap_signals), waits for
  # the child to end, then exits 128 + the signal's number.
  "$@" &
  _reczilla_child=$!
  local status
  while :; do
    status=0
    wait "$_reczilla_child" || status=$?
    if ((_reczilla_signal == 0)) || ! kill -0 "$_reczilla_child" 2>/dev/null; then break; fi
  done
  _reczilla_child=""
  if ((_reczilla_signal != 0)); then exit "$_reczilla_signal"; fi
  return "$status"
}

trap_signals() {
  # On HUP, INT or TERM: stop the running child (see run_child), or exit now when none runs.
  trap '_reczilla_on_signal 129' HUP
  trap '_reczilla_on_signal 130' INT
  trap '_reczilla_on_signal 143' TERM
}

_reczilla_on_signal() {
  # Only the first signal counts: the later ones meet a no-op from here on, so that none can cut
  # the cleanup (EXIT traps) short. A handler that ran `return` while the shell was exiting from
  # a function (run_child's exit) would make bash skip the EXIT trap altogether. Caught, not
  # ignored: an ignored signal stays ignored in the cleanup's own commands, which then could not
  # be stopped.
  trap : HUP INT TERM
  _reczilla_signal=$1
  if [[ -z $_reczilla_child ]]; then exit "$_reczilla_signal"; fi
  kill -TERM "$_reczilla_child" 2>/dev/null || true
}

bounded_run() {
  # bounded_run SECONDS COMMAND...: runs COMMAND as a child, stopping it (TERM, then KILL 5 s
  # later) after SECONDS or at HUP, INT or TERM; the caller's traps are put back after. Returns
  # COMMAND's status, 124 after the time-out, 128 + N after signal N.
  local limit=$1 pid status=0 stop_at="" saved
  shift
  saved=$(trap -p HUP INT TERM)
  _bounded_signal=0
  trap '_bounded_signal=129' HUP
  trap '_bounded_signal=130' INT
  trap '_bounded_signal=143' TERM
  "$@" &
  pid=$!
  local deadline=$((SECONDS + limit))
  while kill -0 "$pid" 2>/dev/null; do
    if [[ -z $stop_at ]] && ((_bounded_signal != 0 || SECONDS >= deadline)); then
      kill -TERM "$pid" 2>/dev/null || true
      stop_at=$((SECONDS + 5))
    elif [[ -n $stop_at ]] && ((SECONDS >= stop_at)); then
      kill -KILL "$pid" 2>/dev/null || true
    fi
    sleep 0.2 || true # killed by a signal to the process group: not an error under set -e
  done
  wait "$pid" || status=$?
  trap - HUP INT TERM
  eval "$saved"
  if ((_bounded_signal != 0)); then return "$_bounded_signal"; fi
  if [[ -n $stop_at ]]; then return 124; fi
  return "$status"
}

# ---------------------------------------------------------------------------------------------
# Buckets: a gs:// path goes through `gcloud storage` (or gsutil, deprecated, where gcloud is
# missing or RECZILLA_STORAGE_CLI=gsutil), anything else is a local folder.

storage_cli() {
  # Prints the Cloud Storage client used for gs:// paths: gcloud or gsutil.
  case ${RECZILLA_STORAGE_CLI:-auto} in
    gcloud | gsutil) printf '%s\n' "$RECZILLA_STORAGE_CLI" ;;
    auto) if command -v gcloud >/dev/null; then echo gcloud; else echo gsutil; fi ;;
    *) reczilla_error "RECZILLA_STORAGE_CLI must be auto, gcloud or gsutil, not '$RECZILLA_STORAGE_CLI'"; return 2 ;;
  esac
}

gcs() {
  # gcs stat|cp|cp_many|ls|rsync|rsync_tree|rm_tree|create_only ARG...: one Cloud Storage
  # operation with the client of storage_cli. cp_many SRC_FOLDER DEST_FOLDER copies the files of
  # SRC_FOLDER; rsync_tree copies a folder tree; create_only FILE URL fails when URL exists.
  local cli operation=$1
  cli=$(storage_cli) || return
  shift
  if [[ $cli == gcloud ]]; then
    case $operation in
      stat) gcloud storage objects describe "$1" >/dev/null 2>&1 ;;
      cp) gcloud storage cp "$1" "$2" ;;
      cp_many) gcloud storage cp "$1/*" "$2/" ;;
      ls) gcloud storage ls "$1/" ;;
      rsync) gcloud storage rsync "$1" "$2" ;;
      rsync_tree) gcloud storage rsync --recursive "$1" "$2" ;;
      rm_tree) gcloud storage rm --recursive "$1" ;;
      create_only) gcloud storage cp --if-generation-match=0 "$1" "$2" ;;
    esac
  else
    case $operation in
      stat) gsutil -q stat "$1" ;;
      cp) gsutil -q cp "$1" "$2" ;;
      cp_many) gsutil -m cp "$1/*" "$2/" ;;
      ls) gsutil ls "$1/" ;;
      rsync) gsutil -m -q rsync "$1" "$2" ;;
      rsync_tree) gsutil -m -q rsync -r "$1" "$2" ;;
      rm_tree) gsutil -m -q rm -r "$1" ;;
      create_only) gsutil -q -h x-goog-if-generation-match:0 cp "$1" "$2" ;;
    esac
  fi
}

bucket_exists() {
  # bucket_exists PATH: succeeds when the file PATH exists.
  if [[ $1 == gs://* ]]; then gcs stat "$1"; else [[ -e $1 ]]; fi
}

bucket_get_files() {
  # bucket_get_files SRC_FOLDER DEST_FOLDER: copies the files of SRC_FOLDER into DEST_FOLDER.
  if [[ $1 == gs://* ]]; then
    gcs cp_many "$1" "$2"
  elif [[ -d $1 ]]; then
    cp -- "$1"/* "$2/"
  else
    reczilla_error "no such folder: $1"
    return 1
  fi
}

bucket_list() {
  # bucket_list FOLDER: the names of the files in FOLDER, one a line (none when it is missing).
  if [[ $1 == gs://* ]]; then
    gcs ls "$1" 2>/dev/null | sed 's#.*/##' || true
  elif [[ -d $1 ]]; then
    ls -A -- "$1"
  fi
}

bucket_put() {
  # bucket_put FILE DEST_PATH: copies FILE to DEST_PATH (locally through a temporary name, so a
  # reader never sees half a file).
  if [[ $2 == gs://* ]]; then
    gcs cp "$1" "$2"
  else
    mkdir -p -- "$(dirname -- "$2")" && cp -- "$1" "$2.tmp$$" && mv -f -- "$2.tmp$$" "$2"
  fi
}

bucket_put_folder() {
  # bucket_put_folder FOLDER DEST_FOLDER: copies the files of FOLDER, split.json last (a split
  # with a split.json is complete).
  local file
  for file in "$1"/*; do
    if [[ -f $file && ${file##*/} != split.json ]]; then bucket_put "$file" "$2/${file##*/}" || return; fi
  done
  if [[ -f $1/split.json ]]; then bucket_put "$1/split.json" "$2/split.json"; fi
}

split_path() {
  # split_path DATASET SPLITTER: the split's folder in the bucket.
  printf '%s/dataset-splits/%s/%s/%s\n' "$RECZILLA_BUCKET" "$RECZILLA_SPLITS_VERSION" "$1" "$2"
}

done_marker_name() {
  # done_marker_name EXPERIMENT_NAME: the name of the file, in <inbox>/done/, saying that this
  # experiment's result is in the inbox: <name>.done, bytes other than A-Z a-z 0-9 . _ - as %XX;
  # past 200 bytes, the first 150 and 16 hex digits of the name's SHA-256.
  local LC_ALL=C
  local name=$1 encoded="" char i
  for ((i = 0; i < ${#name}; i++)); do
    char=${name:i:1}
    case $char in
      [A-Za-z0-9._-]) encoded+=$char ;;
      *) printf -v char '%%%02X' "'$char"; encoded+=$char ;;
    esac
  done
  if ((${#encoded} > 200)); then
    encoded=${encoded:0:150}-$(printf '%s' "$name" | { sha256sum 2>/dev/null || shasum -a 256; } | cut -c1-16)
  fi
  printf '%s.done\n' "$encoded"
}

sync_logs() {
  # sync_logs LOG_FOLDER: copies the batch's log files to <bucket>/inbox/logs/.
  if [[ $RECZILLA_BUCKET == gs://* ]]; then
    gcs rsync "$1" "$RECZILLA_BUCKET/inbox/logs"
  else
    local file
    for file in "$1"/*; do
      if [[ -f $file ]]; then bucket_put "$file" "$RECZILLA_BUCKET/inbox/logs/${file##*/}" || return; fi
    done
  fi
}

quote_args() {
  # quote_args ARG...: the arguments as POSIX shell words, each one in single quotes: one ARGS
  # string that run_experiment_on_instance.sh splits back into exactly these arguments, whatever
  # they hold, or values that a shell reads back verbatim.
  local arg out=""
  for arg in "$@"; do
    out+="'${arg//\'/\'\\\'\'}' "
  done
  printf '%s\n' "${out% }"
}

RUN_EXPERIMENT_ARGUMENTS="time_limit dataset_name split_type alg_name split_dir alg_seed param_seed num_samples result_dir experiment_name original_split_path"

parse_args_str() {
  # parse_args_str ARGS_STR: splits ARGS_STR as a shell would, without running anything (Python's
  # shlex), into the array PARSED_ARGS. Fails with one line (exit status 2) when ARGS_STR is not a
  # valid argument string or does not hold the 11 arguments of Experiment_handler.run_experiment.
  local parsed status=0
  parsed=$(mktemp) || return
  "${RECZILLA_PYTHON:-python3}" -c 'import shlex, sys
try:
    args = shlex.split(sys.argv[1])
except ValueError as error:
    sys.exit(f"error: ARGS is not a valid argument string ({error}): {sys.argv[1]}")
sys.stdout.write("".join(arg + "\0" for arg in args))' "$1" >"$parsed" || status=$?
  if ((status == 0)); then mapfile -d '' -t PARSED_ARGS <"$parsed"; fi
  rm -f -- "$parsed"
  ((status == 0)) || return 2
  if ((${#PARSED_ARGS[@]} != 11)); then
    reczilla_error "ARGS holds ${#PARSED_ARGS[@]} arguments, Experiment_handler.run_experiment takes 11 ($RUN_EXPERIMENT_ARGUMENTS): $1"
    return 2
  fi
}

# ---------------------------------------------------------------------------------------------
# Experiments.

run_experiment() {
  # run_experiment ARGS_STR SPLIT_PATH INSTANCE_NAME
  #   ARGS_STR: the 11 arguments of Experiment_handler.run_experiment (see quote_args);
  #   SPLIT_PATH: the split's folder in the bucket; INSTANCE_NAME: the GCE instance to create
  #   (local backend: the worker's name in the log). Returns the experiment's exit status.
  _reczilla_check_run_args "$@" || return 2
  case $RECZILLA_BACKEND in
    local) _run_local "$@" ;;
    gcloud | gcloud-batch) _run_on_gce "$@" --machine-type="$RECZILLA_GCE_MACHINE_TYPE" ;;
    *) reczilla_error "RECZILLA_BACKEND must be local, gcloud or gcloud-batch, not '$RECZILLA_BACKEND'"; return 2 ;;
  esac
}

run_experiment_GPU() {
  # Same as run_experiment, on a GPU instance (the local backend runs it as run_experiment).
  _reczilla_check_run_args "$@" || return 2
  case $RECZILLA_BACKEND in
    local) _run_local "$@" ;;
    gcloud | gcloud-batch)
      _run_on_gce "$@" --machine-type="$RECZILLA_GCE_GPU_MACHINE_TYPE" \
        --accelerator="$RECZILLA_GCE_ACCELERATOR" --maintenance-policy=TERMINATE
      ;;
    *) reczilla_error "RECZILLA_BACKEND must be local, gcloud or gcloud-batch, not '$RECZILLA_BACKEND'"; return 2 ;;
  esac
}

_reczilla_check_run_args() {
  # Checks the arguments here, before any instance exists (a bad ARGS is not paid for).
  if (($# != 3)) || [[ -z $1 || -z $2 || -z $3 ]]; then
    reczilla_error "usage: run_experiment ARGS_STR SPLIT_PATH INSTANCE_NAME (three non-empty arguments, got $#)"
    return 2
  fi
  parse_args_str "$1"
}

_run_local() (
  # The local "instance": run_experiment_on_instance.sh in a worker process.
  trap_signals
  echo "run_experiment: local worker $3, split $2"
  ARGS=$1 SPLIT_PATH_ON_BUCKET=$2 RECZILLA_INBOX=$RECZILLA_BUCKET/inbox \
    run_child bash "$RECZILLA_SCRIPTS_DIR/run_experiment_on_instance.sh"
)

_run_on_gce() {
  # _run_on_gce ARGS_STR SPLIT_PATH INSTANCE_NAME CREATE_FLAG...: the worker runs in a subshell,
  # so that its traps, exits and variables stay there.
  (_gce_worker "$@")
}

_gce_worker() {
  # The EXIT trap deletes the instance once a create has been tried (a failed create may still
  # leave an instance behind).
  _gce_instance=""
  RECZILLA_GCE_PROJECT=$(gce_project) || exit 2 # this worker's subshell only
  _gce_where=(--project="$RECZILLA_GCE_PROJECT" --zone="$RECZILLA_GCE_ZONE")
  trap _gce_delete_instance EXIT
  trap_signals
  local args_str=$1 split=$2 instance=$3 attempt remote create_flags=(--image-family="$RECZILLA_GCE_IMAGE_FAMILY")
  shift 3
  if [[ -n $RECZILLA_GCE_IMAGE_PROJECT ]]; then create_flags+=(--image-project="$RECZILLA_GCE_IMAGE_PROJECT"); fi
  if [[ -n $RECZILLA_GCE_SERVICE_ACCOUNT ]]; then create_flags+=(--service-account="$RECZILLA_GCE_SERVICE_ACCOUNT"); fi
  printf -v remote 'export ARGS=%s SPLIT_PATH_ON_BUCKET=%s RECZILLA_INBOX=%s' \
    "$(quote_args "$args_str")" "$(quote_args "$split")" "$(quote_args "$RECZILLA_BUCKET/inbox")"
  if [[ -n $RECZILLA_GCE_REPO_DIR ]]; then
    printf -v remote '%s RECZILLA_ACTIVATE=%s RECZILLA_CONDA_ENV=%s && bash %s' "$remote" \
      "$(quote_args "$RECZILLA_GCE_ACTIVATE")" "$(quote_args "$RECZILLA_GCE_CONDA_ENV")" \
      "$(quote_args "$RECZILLA_GCE_REPO_DIR/scripts/run_experiment_on_instance.sh")"
  else
    local code=${RECZILLA_CODE_URL:-}
    if [[ -z $code ]]; then code=$(ship_code) || exit 1; fi
    remote+=" && $(vm_bootstrap_command "$code")"
  fi
  echo "run_experiment: instance $instance, split $split"
  echo "run_experiment: ARGS $args_str"

  for ((attempt = 1; ; attempt++)); do
    _gce_instance=$instance
    if run_child gcloud compute instances create "$instance" "${_gce_where[@]}" "${create_flags[@]}" \
      --scopes="$RECZILLA_GCE_SCOPES" "$@"; then
      break
    fi
    echo "run_experiment: creating $instance failed (attempt $attempt of $RECZILLA_GCE_CREATE_TRIES)" >&2
    if ((attempt >= RECZILLA_GCE_CREATE_TRIES)); then
      echo "run_experiment: too many create attempts, giving up" >&2
      exit 1
    fi
    run_child sleep "$RECZILLA_GCE_CREATE_RETRY_WAIT"
  done
  echo "run_experiment: created $instance"
  run_child sleep "$RECZILLA_GCE_SSH_WAIT"

  for ((attempt = 1; ; attempt++)); do
    if run_child gcloud compute ssh "$instance" "${_gce_where[@]}" --command="$remote"; then
      echo "run_experiment: experiment finished on $instance"
      exit 0
    fi
    echo "run_experiment: the experiment failed on $instance (attempt $attempt of $RECZILLA_GCE_SSH_TRIES)" >&2
    if ((attempt >= RECZILLA_GCE_SSH_TRIES)); then
      echo "run_experiment: too many ssh attempts, giving up" >&2
      exit 1
    fi
    run_child sleep "$RECZILLA_GCE_SSH_RETRY_WAIT"
  done
}

_gce_delete_instance() {
  # EXIT trap of _gce_worker: deletes the instance (bounded; a new signal stops the delete); when
  # that fails, says what may be left and makes the exit status non-zero.
  local status=$?
  trap '' HUP INT TERM # until the delete starts: a signal must not skip it
  if [[ -n $_gce_instance ]]; then
    local instance=$_gce_instance
    _gce_instance=""
    echo "run_experiment: deleting instance $instance"
    if ! _delete_instance "$instance"; then
      reczilla_report_leftovers "$instance"
      exit $((status == 0 ? 1 : status))
    fi
  fi
}

_delete_instance() {
  # _delete_instance NAME: deletes the GCE instance NAME within RECZILLA_GCE_DELETE_TIMEOUT
  # seconds, stopping at HUP/INT/TERM (see bounded_run, whose status it returns); says why
  # when it fails. An instance that does not exist (e.g. its create failed) is not an error.
  local status=0 errors
  errors=$(mktemp) || return
  bounded_run "$RECZILLA_GCE_DELETE_TIMEOUT" gcloud compute instances delete "$1" \
    --project="$RECZILLA_GCE_PROJECT" --zone="$RECZILLA_GCE_ZONE" --quiet 2>"$errors" || status=$?
  cat -- "$errors" >&2
  if ((status != 0 && status != 124 && status < 128)) && grep -q "instances/$1' was not found" "$errors"; then
    echo "instance $1 does not exist: nothing to delete"
    status=0
  fi
  rm -f -- "$errors"
  case $status in
    0) ;;
    124) reczilla_error "deleting instance $1 took more than ${RECZILLA_GCE_DELETE_TIMEOUT}s (RECZILLA_GCE_DELETE_TIMEOUT): stopped" ;;
    129 | 130 | 143) reczilla_error "deleting instance $1 was interrupted" ;;
    *) reczilla_error "could not delete instance $1 (gcloud exit $status)" ;;
  esac
  return "$status"
}

reczilla_report_leftovers() {
  # reczilla_report_leftovers NAME...: says that these instances may still be running (and
  # billed), with the command that deletes them; appends them to RECZILLA_LEFTOVER_INSTANCES.
  reczilla_error "instance(s) that may still be running (billed): $*; delete them with:" \
    "gcloud compute instances delete $* --project=$RECZILLA_GCE_PROJECT --zone=$RECZILLA_GCE_ZONE --quiet"
  if [[ -n ${RECZILLA_LEFTOVER_INSTANCES:-} ]]; then printf '%s\n' "$@" >>"$RECZILLA_LEFTOVER_INSTANCES"; fi
}

delete_instances() {
  # delete_instances NAME...: deletes these GCE instances (by hand: run_experiment already
  # deletes its own instance), each within RECZILLA_GCE_DELETE_TIMEOUT seconds; HUP/INT/TERM
  # stops the deletions. Fails when an instance may be left, naming them all with the command.
  local i status failed=() project
  project=$(gce_project) || return 2
  local RECZILLA_GCE_PROJECT=$project # for _delete_instance
  for ((i = 1; i <= $#; i++)); do
    echo "deleting instance ${!i}"
    status=0
    _delete_instance "${!i}" || status=$?
    if ((status != 0)); then failed+=("${!i}"); fi
    if ((status == 129 || status == 130 || status == 143)); then
      failed+=("${@:i+1}") # not tried
      break
    fi
  done
  if ((${#failed[@]} > 0)); then
    reczilla_report_leftovers "${failed[@]}"
    return 1
  fi
}

wait_until_processes_finish() {
  # wait_until_processes_finish N: waits until at most N background jobs of this shell run.
  local seconds=0
  while (($(jobs -rp | wc -l) > $1)); do
    sleep 1
    if ((++seconds % 60 == 0)); then printf '.'; fi
  done
}

# ---------------------------------------------------------------------------------------------
# Batches: batch_submit starts experiments in the background, at most MAX_PARALLEL at once,
# and prints a progress line whenever one starts or ends; batch_wait waits for all of them.

declare -gA _batch_name=() _batch_log=()
_batch_total=0 _batch_done=0 _batch_failed=0
_batch_failures=()

batch_submit() {
  # batch_submit NAME LOG COMMAND...: runs COMMAND with its output in LOG.
  local name=$1 log=$2
  shift 2
  _batch_reap_until $((${MAX_PARALLEL:-1} - 1))
  # Job control while forking gives the experiment its own process group, which batch_stop
  # signals as a whole; the group's leader outlives the TERM until the experiment has cleaned up.
  local monitor=$-
  set -m
  (
    trap : HUP INT TERM
    "$@"
  ) >"$log" 2>&1 </dev/null &
  [[ $monitor == *m* ]] || set +m
  _batch_name[$!]=$name
  _batch_log[$!]=$log
  _batch_total=$((_batch_total + 1))
  _batch_progress "started $name"
}

batch_wait() {
  # Waits for every submitted experiment; fails when one of them failed.
  _batch_reap_until 0
  ((_batch_failed == 0))
}

batch_stop() {
  # Stops the running experiments (TERM to each one's process group: a gcloud worker then
  # deletes its instance, a local one its Python process) and waits for them.
  echo "stopping ${#_batch_name[@]} running experiments"
  batch_terminate
  _batch_reap_until 0
}

batch_terminate() {
  # Sends TERM to the process group of each running experiment, without waiting. During
  # batch_stop (a second Ctrl-C), this stops the instance deletes under way: each worker then
  # reports its instance as one that may be left.
  local pid
  for pid in "${!_batch_name[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || true; done
}

batch_summary() {
  # Prints the counts, then the failed experiments with their logs, then the instances that may
  # still be running (RECZILLA_LEFTOVER_INSTANCES) with the command that deletes them: fails when
  # there is one.
  local failure leftovers=()
  echo "experiments: $_batch_total run, $_batch_done done, $_batch_failed failed"
  for failure in ${_batch_failures[@]+"${_batch_failures[@]}"}; do echo "  FAILED $failure"; done
  if [[ -s ${RECZILLA_LEFTOVER_INSTANCES:-} ]]; then mapfile -t leftovers <"$RECZILLA_LEFTOVER_INSTANCES"; fi
  if ((${#leftovers[@]} > 0)); then
    echo "WARNING: ${#leftovers[@]} instance(s) may still be running, and billed: ${leftovers[*]}"
    echo "  delete them with: gcloud compute instances delete ${leftovers[*]} --project=$RECZILLA_GCE_PROJECT --zone=$RECZILLA_GCE_ZONE --quiet"
    echo "  (listed in $RECZILLA_LEFTOVER_INSTANCES)"
    return 1
  fi
}

_batch_progress() {
  printf '[%(%H:%M:%S)T] %-60s | running %d, done %d, failed %d\n' -1 "$1" \
    "${#_batch_name[@]}" "$_batch_done" "$_batch_failed"
}

_batch_reap_until() {
  # Collects finished experiments until at most $1 run.
  local pid status
  while :; do
    for pid in "${!_batch_name[@]}"; do
      kill -0 "$pid" 2>/dev/null && continue
      status=0
      wait "$pid" || status=$?
      local name=${_batch_name[$pid]} log=${_batch_log[$pid]}
      unset "_batch_name[$pid]" "_batch_log[$pid]"
      if ((status == 0)); then
        _batch_done=$((_batch_done + 1))
        _batch_progress "done $name"
      else
        _batch_failed=$((_batch_failed + 1))
        _batch_failures+=("$name (exit $status, log: $log)")
        _batch_progress "FAILED $name (exit $status, log: $log)"
      fi
    done
    ((${#_batch_name[@]} <= $1)) && return 0
    sleep 0.5 || true # a Ctrl-C kills this sleep too (same process group): not an error under set -e
  done
}
