# shellcheck shell=bash disable=SC2154  # the batch script's variables: REPO_DIR WORK_DIR python stamp ...
# RECZILLA_BACKEND=gcloud-batch: a whole batch as Google Cloud Batch jobs (sourced by
# example_local_script.sh, after utils.sh).
#
#   cloud_batch_add NAME RESULT_DIR ARGS_STR SPLIT_PATH   adds an experiment (a task) to the batch
#   cloud_batch_run          writes the task list, uploads it to <bucket>/batch/<stamp>/tasks.tsv,
#                            submits the jobs (at most RECZILLA_BATCH_MAX_TASKS tasks each, one
#                            after the other), waits for each with progress lines, and fills in
#                            the batch summary; fails when an experiment failed. DRY_RUN=1: prints
#                            the task list and the job JSON instead, submits and uploads nothing.
#   cloud_batch_interrupt    Ctrl-C: stops waiting, deletes the running job unless
#                            RECZILLA_BATCH_KEEP_ON_INTERRUPT=1, prints how to follow or delete it.
#
# Each task runs code_shipping.sh's bootstrap: the VM fetches the shipped code, installs it and
# runs vm_task.sh, which picks its experiment from the task list by BATCH_TASK_INDEX.
#
# Settings (default in brackets):
#   RECZILLA_BATCH_LOCATION        the jobs' region [the region of RECZILLA_GCE_ZONE]
#   RECZILLA_BATCH_MACHINE_TYPE    [RECZILLA_GCE_MACHINE_TYPE]
#   RECZILLA_BATCH_PROVISIONING    SPOT | STANDARD [SPOT]
#   RECZILLA_BATCH_MAX_RETRIES     retries of a task whose VM was lost (preemption) [3]
#   RECZILLA_BATCH_RUN_MARGIN      seconds added to TIME_LIMIT for maxRunDuration (install, copies) [1800]
#   RECZILLA_BATCH_IMAGE           boot image [projects/debian-cloud/global/images/family/debian-12:
#                                  Python 3.11 and gcloud; Batch's own default image is Debian 11,
#                                  Python 3.9]
#   RECZILLA_BATCH_WORK_DIR        the VM's folder for the experiments [/var/tmp/reczilla-work]
#   RECZILLA_BATCH_POLL            seconds between two `gcloud batch jobs describe` [30]
#   RECZILLA_BATCH_MAX_TASKS       tasks per job [100000, Batch's limit]
#   RECZILLA_BATCH_KEEP_ON_INTERRUPT  1: Ctrl-C leaves the job running [0]
#   RECZILLA_CHECKPOINT_INTERVAL   seconds between two copies of a running result_dir [60]
#   RECZILLA_GCE_SERVICE_ACCOUNT   the VMs' service account [none: the default compute one]

: "${RECZILLA_BATCH_MACHINE_TYPE:=$RECZILLA_GCE_MACHINE_TYPE}"
: "${RECZILLA_BATCH_PROVISIONING:=SPOT}"
: "${RECZILLA_BATCH_MAX_RETRIES:=3}"
: "${RECZILLA_BATCH_RUN_MARGIN:=1800}"
: "${RECZILLA_BATCH_IMAGE=projects/debian-cloud/global/images/family/debian-12}"
: "${RECZILLA_BATCH_WORK_DIR:=/var/tmp/reczilla-work}"
: "${RECZILLA_BATCH_POLL:=30}"
: "${RECZILLA_BATCH_MAX_TASKS:=100000}"
: "${RECZILLA_BATCH_KEEP_ON_INTERRUPT:=0}"
: "${RECZILLA_CHECKPOINT_INTERVAL:=60}"
: "${RECZILLA_BATCH_LOCATION:=${RECZILLA_GCE_ZONE%-*}}"

_cloud_batch_names=() _cloud_batch_lines=()
_cloud_batch_job="" _cloud_batch_where=()

cloud_batch_add() {
  # cloud_batch_add NAME RESULT_DIR ARGS_STR SPLIT_PATH
  _cloud_batch_names+=("$1")
  _cloud_batch_lines+=("$1"$'\t'"$2"$'\t'"$3"$'\t'"$4")
}

cloud_batch_check_settings() {
  # Fails with one line for a bad setting (before anything is uploaded).
  local var
  [[ $RECZILLA_BUCKET == gs://* ]] || { reczilla_error "RECZILLA_BUCKET must be a gs:// bucket on gcloud-batch, not '$RECZILLA_BUCKET'"; return 2; }
  [[ $RECZILLA_BATCH_PROVISIONING == SPOT || $RECZILLA_BATCH_PROVISIONING == STANDARD ]] ||
    { reczilla_error "RECZILLA_BATCH_PROVISIONING must be SPOT or STANDARD, not '$RECZILLA_BATCH_PROVISIONING'"; return 2; }
  for var in RECZILLA_BATCH_MAX_RETRIES RECZILLA_BATCH_RUN_MARGIN RECZILLA_BATCH_POLL RECZILLA_BATCH_MAX_TASKS RECZILLA_CHECKPOINT_INTERVAL; do
    [[ ${!var} =~ ^[0-9]+$ ]] || { reczilla_error "$var must be a whole number, not '${!var}'"; return 2; }
  done
  ((RECZILLA_BATCH_MAX_RETRIES <= 10)) || { reczilla_error "RECZILLA_BATCH_MAX_RETRIES must be 0 to 10 (Batch's range)"; return 2; }
  ((MAX_PARALLEL <= 5000)) || { reczilla_error "MAX_PARALLEL must be at most 5000 on gcloud-batch (Batch's limit per job)"; return 2; }
  [[ $RECZILLA_BATCH_LOCATION =~ ^[a-z]+-[a-z]+[0-9]+$ ]] ||
    { reczilla_error "RECZILLA_BATCH_LOCATION must be a region like us-central1, not '$RECZILLA_BATCH_LOCATION'"; return 2; }
}

_cloud_batch_py() {
  PYTHONPATH="$REPO_DIR${PYTHONPATH:+:$PYTHONPATH}" "$python" -m Experiment_handler.cloud_batch_job "$@"
}

_cloud_batch_job_json() {
  # _cloud_batch_job_json OFFSET COUNT CODE_FOLDER TASK_LIST_URL: the job JSON on stdout.
  local script=$WORK_DIR/batch-$stamp/task-script.sh flags=()
  mkdir -p -- "${script%/*}"
  { echo '#!/bin/bash'; vm_bootstrap_command "$3"; } >"$script"
  if [[ -n $RECZILLA_GCE_SERVICE_ACCOUNT ]]; then flags+=(--service-account "$RECZILLA_GCE_SERVICE_ACCOUNT"); fi
  if [[ -n $RECZILLA_BATCH_IMAGE ]]; then flags+=(--image "$RECZILLA_BATCH_IMAGE"); fi
  _cloud_batch_py job --task-count "$2" --parallelism "$MAX_PARALLEL" --machine-type "$RECZILLA_BATCH_MACHINE_TYPE" \
    --provisioning "$RECZILLA_BATCH_PROVISIONING" --max-run-duration $((TIME_LIMIT + RECZILLA_BATCH_RUN_MARGIN)) \
    --max-retries "$RECZILLA_BATCH_MAX_RETRIES" --script-file "$script" "${flags[@]}" \
    --env "RECZILLA_TASK_LIST=$4" --env "RECZILLA_TASK_OFFSET=$1" --env "RECZILLA_BUCKET=$RECZILLA_BUCKET" \
    --env "RECZILLA_INBOX=$RECZILLA_BUCKET/inbox" --env "RECZILLA_CHECKPOINTS=$RECZILLA_BUCKET/checkpoints" \
    --env "RECZILLA_CHECKPOINT_INTERVAL=$RECZILLA_CHECKPOINT_INTERVAL" --env "RECZILLA_BATCH_STAMP=$stamp" \
    --env "RECZILLA_SPLITS_VERSION=$RECZILLA_SPLITS_VERSION" ${RECZILLA_VM_PYTHON:+--env "RECZILLA_VM_PYTHON=$RECZILLA_VM_PYTHON"} \
    ${RECZILLA_VM_DIR:+--env "RECZILLA_VM_DIR=$RECZILLA_VM_DIR"} --label "reczilla-batch=$stamp"
}

cloud_batch_run() {
  local total=${#_cloud_batch_names[@]} tasks folder code list_url offset count k=0 status=0
  ((total > 0)) || return 0
  folder=$WORK_DIR/batch-$stamp
  mkdir -p -- "$folder"
  printf '%s\n' "${_cloud_batch_lines[@]}" >"$folder/tasks.tsv"
  list_url=$RECZILLA_BUCKET/batch/$stamp/tasks.tsv
  if [[ ${DRY_RUN:-0} == 1 ]]; then
    code=$RECZILLA_BUCKET/code/$(code_version)+$(git -C "$REPO_DIR" rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
    echo "dry run: the task list ($list_url), one line per task (name, result_dir, ARGS, split):"
    cat -- "$folder/tasks.tsv"
  else
    code=$(ship_code) || return 1
    bucket_put "$folder/tasks.tsv" "$list_url" || { reczilla_error "could not upload the task list to $list_url"; return 1; }
  fi
  _cloud_batch_where=(--location="$RECZILLA_BATCH_LOCATION" --project="$RECZILLA_GCE_PROJECT")
  while read -r offset count; do
    tasks=$folder/job-$k.json
    _cloud_batch_job_json "$offset" "$count" "$code" "$list_url" >"$tasks" || return 1
    _cloud_batch_job=$INSTANCE_BASE-$stamp-$k
    if [[ ${DRY_RUN:-0} == 1 ]]; then
      echo "dry run: job $_cloud_batch_job (tasks $offset to $((offset + count - 1))):"
      cat -- "$tasks"
    else
      _cloud_batch_submit_and_wait "$offset" "$count" "$tasks" || status=1
    fi
    k=$((k + 1))
  done < <(_cloud_batch_py chunks "$total" "$RECZILLA_BATCH_MAX_TASKS")
  _cloud_batch_job=""
  if [[ ${DRY_RUN:-0} == 1 ]]; then echo "dry run: nothing was submitted"; fi
  return "$status"
}

_cloud_batch_submit_and_wait() {
  # _cloud_batch_submit_and_wait OFFSET COUNT JOB_JSON: submits the job, waits for its end, records its tasks.
  local offset=$1 state line last="" counts
  # (not run_child: a background command's stdin would be /dev/null; a submit takes seconds)
  if ! gcloud batch jobs submit "$_cloud_batch_job" "${_cloud_batch_where[@]}" --config=- <"$3" >/dev/null; then
    reczilla_error "could not submit the job $_cloud_batch_job (gcloud batch jobs submit failed)"
    _cloud_batch_record_all "$offset" "$2" "job $_cloud_batch_job not submitted"
    return 1
  fi
  echo "submitted job $_cloud_batch_job ($RECZILLA_BATCH_PROVISIONING $RECZILLA_BATCH_MACHINE_TYPE, at most $MAX_PARALLEL tasks at once)"
  _cloud_batch_follow_commands
  while :; do
    if line=$(run_child gcloud batch jobs describe "$_cloud_batch_job" "${_cloud_batch_where[@]}" --format=json |
      _cloud_batch_py status); then
      read -r state counts <<<"$line"
      if [[ $line != "$last" ]]; then
        read -r -a counts <<<"$counts"
        printf '[%(%H:%M:%S)T] job %s %s | succeeded %d, failed %d, running %d, waiting %d\n' -1 "$_cloud_batch_job" \
          "$state" "${counts[0]}" "${counts[1]}" "${counts[2]}" $((counts[3] + counts[4]))
        last=$line
      fi
      case $state in SUCCEEDED | FAILED | CANCELLED | DELETION_IN_PROGRESS) break ;; esac
    else
      echo "warning: could not read the state of job $_cloud_batch_job; trying again" >&2
    fi
    run_child sleep "$RECZILLA_BATCH_POLL"
  done
  _cloud_batch_record "$offset"
  [[ $state == SUCCEEDED ]]
}

_cloud_batch_record() {
  # Adds the job's tasks to the batch summary (utils.sh's counters), by their state.
  local offset=$1 index state name
  while read -r index state; do
    name=${_cloud_batch_names[offset + index]:-"(task $index: not in the task list)"}
    _batch_total=$((_batch_total + 1))
    if [[ $state == SUCCEEDED ]]; then
      _batch_done=$((_batch_done + 1))
    else
      _batch_failed=$((_batch_failed + 1))
      _batch_failures+=("$name (task $index of $_cloud_batch_job, $state, log: $RECZILLA_BUCKET/inbox/logs/${name}_$stamp.attempt*.log)")
    fi
  done < <(gcloud batch tasks list --job="$_cloud_batch_job" "${_cloud_batch_where[@]}" --format=json | _cloud_batch_py tasks)
}

_cloud_batch_record_all() {
  # _cloud_batch_record_all OFFSET COUNT REASON: every task of a job failed for REASON.
  local index
  for ((index = 0; index < $2; index++)); do
    _batch_total=$((_batch_total + 1)) _batch_failed=$((_batch_failed + 1))
    _batch_failures+=("${_cloud_batch_names[$1 + index]} ($3)")
  done
}

_cloud_batch_follow_commands() {
  echo "  follow it: gcloud batch jobs describe $_cloud_batch_job ${_cloud_batch_where[*]}"
  echo "  its logs:  gcloud logging read 'labels.job_uid:$_cloud_batch_job' --project=$RECZILLA_GCE_PROJECT (and $RECZILLA_BUCKET/inbox/logs/)"
  echo "  delete it: gcloud batch jobs delete $_cloud_batch_job ${_cloud_batch_where[*]} --quiet"
}

cloud_batch_interrupt() {
  if [[ -z $_cloud_batch_job || ${DRY_RUN:-0} == 1 ]]; then return 0; fi
  if [[ $RECZILLA_BATCH_KEEP_ON_INTERRUPT == 1 ]]; then
    echo "stopped waiting; job $_cloud_batch_job keeps running (RECZILLA_BATCH_KEEP_ON_INTERRUPT=1)"
  else
    echo "deleting job $_cloud_batch_job"
    gcloud batch jobs delete "$_cloud_batch_job" "${_cloud_batch_where[@]}" --quiet >/dev/null ||
      reczilla_error "could not delete job $_cloud_batch_job"
  fi
  _cloud_batch_follow_commands
}
