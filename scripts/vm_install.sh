#!/usr/bin/env bash
# Installs the shipped code on a VM into a venv and prints the venv's python (everything else
# goes to stderr). Run by vm_task.sh, in RECZILLA_CODE_DIR (holding source.tar.gz).
#
#   RECZILLA_CODE_URL   <bucket>/code/<version>+<commit> (see code_shipping.sh)
#   RECZILLA_CODE_DIR   this VM's folder for it; the venv is RECZILLA_CODE_DIR/venv
#   RECZILLA_PIP_ARGS   extra pip arguments (e.g. --index-url of a mirror) [none]
#   RECZILLA_BUILD_WAIT seconds to wait for another VM's build before building here [900]
#
# The Cython kernels are compiled once per code version and platform (Python version, OS,
# architecture): the first VM takes a lock (<code>/wheels/<platform>/building, created only if
# absent), builds the wheel, installs it with its dependencies from PyPI, and uploads the wheel
# and `pip freeze` (requirements.txt, the pinned dependency versions) to <code>/wheels/<platform>/.
# Every other VM installs that wheel with exactly those versions: seconds, not a compile.
# A venv that already imports the package (a reused VM) is kept. Needs Python 3.11+ with venv
# (and a C compiler for the build): on Debian, missing packages are installed with apt-get.
set -euo pipefail

# shellcheck source=scripts/utils.sh
source "$(dirname "${BASH_SOURCE[0]}")/utils.sh"

say() { printf 'vm_install: %s\n' "$*" >&2; }
die() {
  say "error: $*"
  exit 1
}

: "${RECZILLA_CODE_URL:?RECZILLA_CODE_URL is not set}" "${RECZILLA_CODE_DIR:?RECZILLA_CODE_DIR is not set}"
read -r -a pip_args <<<"${RECZILLA_PIP_ARGS:-}"
venv=$RECZILLA_CODE_DIR/venv
source_tar=$RECZILLA_CODE_DIR/source.tar.gz
[[ -f $source_tar ]] || die "no $source_tar"

apt_install() {
  if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
    say "installing $* with apt-get"
    apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >&2
  else
    die "missing: $* (install them, or use an image that has them)"
  fi
}

python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' ||
  die "python3 is $(python3 -V 2>&1), the project needs 3.11 or newer: use an image that has it (e.g. debian-12)"
if [[ -x $venv/bin/python ]] && "$venv/bin/python" -c 'import Data_manager.version' 2>/dev/null; then
  say "reusing the installed venv $venv"
  printf '%s\n' "$venv/bin/python"
  exit 0
fi
if [[ ! -x $venv/bin/python ]]; then
  python3 -m venv "$venv" 2>/dev/null || { apt_install python3-venv && python3 -m venv "$venv"; }
fi
pip=("$venv/bin/python" -m pip --disable-pip-version-check --quiet)
platform=$("$venv/bin/python" -c 'import sys, sysconfig; print(f"cp{sys.version_info[0]}{sys.version_info[1]}-{sysconfig.get_platform()}")')
wheels=$RECZILLA_CODE_URL/wheels/$platform
work=$(mktemp -d)
trap 'rm -rf -- "$work"' EXIT

install_cached() {
  # Installs the uploaded wheel with the recorded dependency versions; fails when none is uploaded.
  bucket_exists "$wheels/requirements.txt" || return 1
  bucket_get_files "$wheels" "$work" >&2 || return 1
  say "installing the wheel built for $platform, pinned dependencies ($wheels/requirements.txt)"
  "${pip[@]}" install "${pip_args[@]}" -r "$work/requirements.txt" >&2
  "${pip[@]}" install --no-deps --force-reinstall "$work"/reczilla_metadata-*.whl >&2
}

build_here() {
  say "building the wheel for $platform (compiles the Cython kernels once for this code and platform)"
  if ! command -v cc >/dev/null && ! command -v gcc >/dev/null; then apt_install build-essential python3-dev; fi
  "${pip[@]}" wheel --no-deps "${pip_args[@]}" --wheel-dir "$work/wheel" "$source_tar" >&2
  "${pip[@]}" install "${pip_args[@]}" "$work"/wheel/reczilla_metadata-*.whl >&2
  "${pip[@]}" install --no-deps --force-reinstall "$work"/wheel/reczilla_metadata-*.whl >&2
  "${pip[@]}" freeze --exclude reczilla-metadata >"$work/wheel/requirements.txt"
  # the wheel first, requirements.txt last: a folder with requirements.txt is complete
  local wheel
  wheel=$(echo "$work"/wheel/reczilla_metadata-*.whl)
  if ! { bucket_put "$wheel" "$wheels/${wheel##*/}" >&2 && bucket_put "$work/wheel/requirements.txt" "$wheels/requirements.txt" >&2; }; then
    say "warning: could not upload the wheel to $wheels (other VMs will build it again)"
  fi
}

take_build_lock() {
  # Succeeds for the one VM that creates <wheels>/building.
  echo "${HOSTNAME:-vm} $(date -u +%FT%TZ)" >"$work/lock"
  if [[ $wheels == gs://* ]]; then
    gcs create_only "$work/lock" "$wheels/building" >/dev/null 2>&1
  else
    mkdir -p -- "$wheels" && (set -C && cat "$work/lock" >"$wheels/building") 2>/dev/null
  fi
}

if ! install_cached; then
  if take_build_lock; then
    build_here
  else
    say "another VM is building the wheel for $platform: waiting up to ${RECZILLA_BUILD_WAIT:-900} s"
    deadline=$((SECONDS + ${RECZILLA_BUILD_WAIT:-900}))
    until install_cached; do
      if ((SECONDS >= deadline)); then
        say "no wheel after the wait: building here"
        build_here
        break
      fi
      sleep 10
    done
  fi
fi
"$venv/bin/python" -c 'import Data_manager.version' || die "the package does not import in $venv"
printf '%s\n' "$venv/bin/python"
