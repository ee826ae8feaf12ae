#!/usr/bin/env bash
# Runs one experiment on this machine (a GCE instance, or a local worker of the local backend).
#
# Environment:
#   ARGS                  (required) the 11 arguments of Experiment_handler.run_experiment, as one
#                         string split like a shell would, without running anything (Python's
#                         shlex): plain words, or quoted ones (utils.sh: quote_args).
#   SPLIT_PATH_ON_BUCKET  (required) the split's folder: gs://... (copied with gsutil) or a path.
#   RECZILLA_INBOX        where results go [$RECZILLA_BUCKET/inbox]
#   RECZILLA_ACTIVATE     an activate script to source first, e.g. a conda installation's
#                         bin/activate, with RECZILLA_CONDA_ENV as its argument, or a venv's
#                         bin/activate [none: the python3 on PATH]
#   RECZILLA_PYTHON       the Python interpreter [python3]
#
# Steps: copy the split into ARGS' split_dir; run the experiment; rename result_dir/result.zip
# to result_<mmddyy_HHMMSS>_<4 hex>.zip; copy it to the inbox, then inbox/done/<experiment>.done
# (holding the zip's name: the batch script skips experiments that have one). This script's
# output goes to inbox/logs/<the zip's name>.log, whatever the outcome. A failed experiment
# uploads no zip and keeps result_dir/result.zip: running again resumes it.
#
# Fixed flaws of the reference: a missing ARGS or SPLIT_PATH_ON_BUCKET was only printed; ARGS was
# expanded unquoted (globbing and word splitting); split and result folders were hard-coded
# (/home/shared) instead of read from ARGS; the inbox was hard-coded; the log was not uploaded;
# `openssl rand` was needed; `conda init` and a Cython rebuild ran before every experiment.
set -euo pipefail

# shellcheck source=scripts/utils.sh
source "$(dirname "${BASH_SOURCE[0]}")/utils.sh"

die() {
  printf 'run_experiment_on_instance.sh: error: %s\n' "$*" >&2
  exit 1
}

[[ -n ${ARGS:-} ]] || die "ARGS is not set: export ARGS='$RUN_EXPERIMENT_ARGUMENTS'"
[[ -n ${SPLIT_PATH_ON_BUCKET:-} ]] || die "SPLIT_PATH_ON_BUCKET is not set: export SPLIT_PATH_ON_BUCKET=<bucket>/dataset-splits/<version>/<Dataset>/<Splitter>"
inbox=${RECZILLA_INBOX:-$RECZILLA_BUCKET/inbox}
python=${RECZILLA_PYTHON:-python3}

if [[ -n ${RECZILLA_ACTIVATE:-} ]]; then
  [[ -f $RECZILLA_ACTIVATE ]] || die "RECZILLA_ACTIVATE=$RECZILLA_ACTIVATE is not a file"
  set +u # activate scripts read unset variables
  # shellcheck source=/dev/null
  source "$RECZILLA_ACTIVATE" ${RECZILLA_CONDA_ENV:+"$RECZILLA_CONDA_ENV"}
  set -u
fi

work=$(mktemp -d)
tee_pid=""
finish() {
  local status=$?
  trap '' HUP INT TERM
  if [[ -n $tee_pid ]]; then
    exec 1>&3 2>&4
    wait "$tee_pid" || true
    bucket_put "$work/log" "$inbox/logs/$result_id.log" || echo "warning: could not copy the log to $inbox/logs/" >&2
  fi
  rm -rf -- "$work"
  exit "$status"
}
trap finish EXIT
trap_signals

RECZILLA_PYTHON=$python parse_args_str "$ARGS" || exit 1 # one line: not a valid string, or not 11 arguments
argv=("${PARSED_ARGS[@]}")
split_dir=${argv[4]}
result_dir=${argv[8]}
experiment_name=${argv[9]}
result_id=result_$(date +%m%d%y_%H%M%S)_$(od -An -N2 -tx1 /dev/urandom | tr -d ' \n')

# From here on, everything printed also goes to the log (tee ignores signals: it ends with us).
mkfifo "$work/fifo"
(
  trap '' HUP INT TERM
  exec tee -a "$work/log" <"$work/fifo"
) &
tee_pid=$!
exec 3>&1 4>&2 >"$work/fifo" 2>&1

echo "experiment $experiment_name on ${HOSTNAME:-this machine}, result $result_id"
echo "ARGS: $ARGS"
echo "copying the split from $SPLIT_PATH_ON_BUCKET to $split_dir"
if [[ -d $split_dir && -n $(ls -A -- "$split_dir") ]]; then
  # An earlier copy (an ssh retry, a reused instance) is replaced, but never a folder that is not a split.
  [[ -f $split_dir/split.json ]] || die "split_dir $split_dir is not empty and holds no split.json: not overwriting it"
  rm -rf -- "$split_dir"
fi
mkdir -p -- "$split_dir"
run_child bucket_get_files "$SPLIT_PATH_ON_BUCKET" "$split_dir" || die "could not copy the split from $SPLIT_PATH_ON_BUCKET"

status=0
PYTHONPATH="$(dirname "$RECZILLA_SCRIPTS_DIR")${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 \
  run_child "$python" -m Experiment_handler.run_experiment "${argv[@]}" || status=$?
if ((status != 0)); then
  echo "the experiment failed (exit $status): nothing goes to the inbox but this log; running it again resumes $result_dir/result.zip" >&2
  exit "$status"
fi
[[ -f $result_dir/result.zip ]] || die "the experiment wrote no $result_dir/result.zip"
mv -- "$result_dir/result.zip" "$result_dir/$result_id.zip"
run_child bucket_put "$result_dir/$result_id.zip" "$inbox/$result_id.zip" || die "could not copy the result to $inbox/"
printf '%s\n' "$result_id.zip" >"$work/done"
marker=$inbox/done/$(done_marker_name "$experiment_name")
run_child bucket_put "$work/done" "$marker" || die "could not write $marker"
echo "result: $inbox/$result_id.zip"
