# shellcheck shell=bash
# The launching checkout's own code on every VM of both gcloud backends (sourced by utils.sh).
#
#   ship_code            packages the checkout and uploads it once to
#                        <bucket>/code/<version>+<commit>/source.tar.gz; prints that folder.
#   vm_bootstrap_command CODE_FOLDER
#                        the one-line POSIX shell command a VM runs: fetch source.tar.gz, unpack
#                        its scripts/, run scripts/vm_task.sh (which installs the code, see
#                        vm_install.sh, and runs the experiment).
#
# The package is `git archive` of HEAD plus Data_manager/build_info.json naming the commit, which
# every result then records (environment.git_commit). Uncommitted changes to tracked files are
# refused: commit them, or set RECZILLA_ALLOW_DIRTY=1 to ship the working tree's tracked files
# (through `git stash create`, which leaves the tree alone) as <commit>+dirty.<stash commit>.
# Untracked files are never shipped.
#
# Settings: RECZILLA_ALLOW_DIRTY [0]; RECZILLA_VM_DIR, the VM's folder for the code and its
# venv [/var/tmp/reczilla].

code_version() {
  # The package version written in Data_manager/version.py.
  sed -n 's/^__version__ = "\(.*\)"$/\1/p' "$RECZILLA_SCRIPTS_DIR/../Data_manager/version.py"
}

_code_tree() {
  # Prints "<tree-ish to archive> <commit recorded>"; fails on a dirty tree unless allowed.
  local repo=$RECZILLA_SCRIPTS_DIR/.. head stash
  head=$(git -C "$repo" rev-parse HEAD 2>/dev/null) || {
    reczilla_error "the code to ship must be a git checkout: $(cd "$repo" && pwd) is not one"
    return 1
  }
  if [[ -z $(git -C "$repo" status --porcelain --untracked-files=no) ]]; then
    printf '%s %s\n' "$head" "$head"
    return
  fi
  if [[ ${RECZILLA_ALLOW_DIRTY:-0} != 1 ]]; then
    reczilla_error "the checkout has uncommitted changes (git status): commit them, so that results name" \
      "the code that made them, or set RECZILLA_ALLOW_DIRTY=1 to ship them as <commit>+dirty"
    return 1
  fi
  stash=$(git -C "$repo" stash create)
  echo "warning: shipping uncommitted changes as $head+dirty.$stash (untracked files are not shipped)" >&2
  printf '%s %s\n' "$stash" "$head+dirty.$stash"
}

ship_code() {
  # Prints <bucket>/code/<version>+<commit>, uploading source.tar.gz there first when missing.
  local tree recorded version id folder staging status=0
  read -r tree recorded < <(_code_tree) || return 1
  [[ -n ${tree:-} ]] || return 1
  version=$(code_version)
  id=$version+${recorded:0:12}
  if [[ $recorded == *+dirty.* ]]; then id+=.dirty.${tree:0:12}; fi
  folder=$RECZILLA_BUCKET/code/$id
  if bucket_exists "$folder/source.tar.gz"; then
    printf '%s\n' "$folder"
    return
  fi
  staging=$(mktemp -d)
  {
    git -C "$RECZILLA_SCRIPTS_DIR/.." archive --format=tar --prefix=reczilla-metadata/ "$tree" | tar -x -C "$staging" &&
      printf '{"git_commit": "%s", "package_version": "%s"}\n' "$recorded" "$version" \
        >"$staging/reczilla-metadata/Data_manager/build_info.json" &&
      tar -czf "$staging/source.tar.gz" -C "$staging" reczilla-metadata &&
      bucket_put "$staging/source.tar.gz" "$folder/source.tar.gz" >&2
  } || status=1
  rm -rf -- "$staging"
  if ((status != 0)); then
    reczilla_error "could not package and upload the code to $folder"
    return 1
  fi
  echo "shipped the code of $recorded to $folder" >&2
  printf '%s\n' "$folder"
}

vm_bootstrap_command() {
  # vm_bootstrap_command CODE_FOLDER: see the top of this file. Every value is single-quoted.
  local folder=$1 dir
  dir=${RECZILLA_VM_DIR:-/var/tmp/reczilla}/code-${folder##*/}
  # shellcheck disable=SC2016  # expanded by the VM's shell
  printf 'export RECZILLA_CODE_URL=%s RECZILLA_CODE_DIR=%s && mkdir -p "$RECZILLA_CODE_DIR" && cd "$RECZILLA_CODE_DIR" && ' \
    "$(quote_args "$folder")" "$(quote_args "$dir")"
  # shellcheck disable=SC2016
  printf '{ [ -f scripts/vm_task.sh ] || { { { command -v gcloud >/dev/null && gcloud storage cp "$RECZILLA_CODE_URL/source.tar.gz" source.tar.gz; } || gsutil -q cp "$RECZILLA_CODE_URL/source.tar.gz" source.tar.gz; } && tar -xzf source.tar.gz --strip-components=1 reczilla-metadata/scripts; }; } && '
  printf 'exec bash scripts/vm_task.sh\n'
}
