#!/usr/bin/env bash
# One experiment on a VM of a gcloud backend, with the code the launcher shipped (started by
# code_shipping.sh's vm_bootstrap_command, in RECZILLA_CODE_DIR).
#
# Installs the code (vm_install.sh; RECZILLA_VM_PYTHON, an interpreter that already has this
# code installed, skips that), then runs run_experiment_on_instance.sh with it.
#   gcloud backend: ARGS, SPLIT_PATH_ON_BUCKET and RECZILLA_INBOX come from the ssh command.
#   gcloud-batch backend (BATCH_TASK_INDEX is set): the experiment is line
#     BATCH_TASK_INDEX + RECZILLA_TASK_OFFSET + 1 of RECZILLA_TASK_LIST (tab-separated: name,
#     result_dir, ARGS, split path). It is skipped when its done marker is in the inbox already
#     (a task retried after it finished). result_dir is restored from
#     <RECZILLA_CHECKPOINTS>/<name>/ and copied back there every RECZILLA_CHECKPOINT_INTERVAL
#     seconds [60] while the experiment runs, so that a task retried on a new VM after a
#     preemption resumes its finished samples; the checkpoint is removed once the result is in
#     the inbox. The task's output goes to <inbox>/logs/<name>_<RECZILLA_BATCH_STAMP>.attempt<N>.log
#     (copied with each checkpoint too: a preempted VM leaves its log up to its last copy).
# Exit status: the experiment's (Batch retries a task only when its VM was lost).
set -euo pipefail

scripts=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=scripts/utils.sh
source "$scripts/utils.sh"

if [[ -n ${RECZILLA_VM_PYTHON:-} ]]; then
  export RECZILLA_PYTHON=$RECZILLA_VM_PYTHON
else
  RECZILLA_PYTHON=$(bash "$scripts/vm_install.sh")
  export RECZILLA_PYTHON
fi
if [[ -z ${BATCH_TASK_INDEX:-} ]]; then
  exec bash "$scripts/run_experiment_on_instance.sh"
fi

die() {
  printf 'vm_task: error: %s\n' "$*" >&2
  exit 1
}
: "${RECZILLA_TASK_LIST:?}" "${RECZILLA_CHECKPOINTS:?}" "${RECZILLA_INBOX:?}"
[[ $BATCH_TASK_INDEX =~ ^[0-9]+$ && ${RECZILLA_TASK_OFFSET:-0} =~ ^[0-9]+$ ]] ||
  die "BATCH_TASK_INDEX and RECZILLA_TASK_OFFSET must be whole numbers"
work=$(mktemp -d)
checkpointer="" tee_pid=""
# shellcheck disable=SC2317  # run by the EXIT trap
finish() {
  local status=$?
  trap '' HUP INT TERM
  if [[ -n $checkpointer ]]; then kill "$checkpointer" 2>/dev/null || true; fi
  if [[ -n $tee_pid ]]; then
    exec 1>&3 2>&4
    wait "$tee_pid" 2>/dev/null || true
    bucket_put "$work/task.log" "$RECZILLA_INBOX/logs/$log_name" || echo "warning: could not copy the task's log" >&2
  fi
  rm -rf -- "$work"
  exit "$status"
}
trap finish EXIT

if [[ $RECZILLA_TASK_LIST == gs://* ]]; then
  gcs cp "$RECZILLA_TASK_LIST" "$work/tasks.tsv" || die "could not read the task list $RECZILLA_TASK_LIST"
else
  cp -- "$RECZILLA_TASK_LIST" "$work/tasks.tsv" || die "could not read the task list $RECZILLA_TASK_LIST"
fi
line=$((BATCH_TASK_INDEX + ${RECZILLA_TASK_OFFSET:-0} + 1))
IFS=$'\t' read -r name result_dir ARGS SPLIT_PATH_ON_BUCKET < <(sed -n "${line}p" "$work/tasks.tsv") ||
  die "the task list has no line $line"
export ARGS SPLIT_PATH_ON_BUCKET
checkpoint=$RECZILLA_CHECKPOINTS/$name
log_name=${name}_${RECZILLA_BATCH_STAMP:-batch}.attempt${BATCH_TASK_RETRY_ATTEMPT:-0}.log
exec 3>&1 4>&2 > >(trap '' HUP INT TERM && exec tee -a "$work/task.log") 2>&1
tee_pid=$!

echo "task $BATCH_TASK_INDEX (attempt ${BATCH_TASK_RETRY_ATTEMPT:-0}): experiment $name on ${HOSTNAME:-this VM}"
if bucket_exists "$RECZILLA_INBOX/done/$(done_marker_name "$name")"; then
  echo "its result is in the inbox already: nothing to do"
  exit 0
fi
if [[ -n $(bucket_list "$checkpoint") ]]; then
  echo "restoring the partial result from $checkpoint"
  mkdir -p -- "$result_dir"
  gcs rsync_tree "$checkpoint" "$result_dir" || die "could not restore $checkpoint"
fi

interval=${RECZILLA_CHECKPOINT_INTERVAL:-60}
(
  trap 'kill "$!" 2>/dev/null; exit 0' TERM
  while :; do
    sleep "$interval" &
    wait "$!"
    if [[ -d $result_dir ]]; then gcs rsync_tree "$result_dir" "$checkpoint" >/dev/null 2>&1 || true; fi
    bucket_put "$work/task.log" "$RECZILLA_INBOX/logs/$log_name" >/dev/null 2>&1 || true
  done
) >/dev/null 2>&1 3>&- 4>&- &
checkpointer=$!

status=0
bash "$scripts/run_experiment_on_instance.sh" || status=$?
kill "$checkpointer" 2>/dev/null || true
wait "$checkpointer" 2>/dev/null || true
checkpointer=""
if ((status == 0)); then
  gcs rm_tree "$checkpoint" >/dev/null 2>&1 || true
else
  gcs rsync_tree "$result_dir" "$checkpoint" >/dev/null 2>&1 || true
fi
exit "$status"
