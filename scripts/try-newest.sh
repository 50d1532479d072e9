#!/usr/bin/env bash
# Try the newest versions the .in files allow, in a throwaway environment, before upgrading the lock:
# resolve them (scripts/lock.sh --upgrade --into a temporary folder), print what would change, install
# them into a new virtual environment and run the fast tests (no browser, no slow model runs) there.
# Nothing in the repository changes. If the tests pass: scripts/lock.sh --upgrade, run the whole suite, commit.
# Not part of CI. Needs uv (pip install uv==0.13.8, or the test environment, which has it).
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
scripts/lock.sh --upgrade --into "$work/locks"
pins() { grep -hoE '^[A-Za-z0-9._-]+==[^ ;]+' "$@" | sort -u; }
echo "== what would change (current -> newest allowed), requirements-dev.txt and requirements-vllm.txt:"
diff <(pins requirements-dev.txt requirements-vllm.txt) \
     <(pins "$work/locks/requirements-dev.txt" "$work/locks/requirements-vllm.txt") | grep '^[<>]' || echo "nothing"
python3 -m venv "$work/env"
"$work/env/bin/pip" install -q -r pre-requirements.txt
"$work/env/bin/pip" install -q --require-hashes -r "$work/locks/requirements-dev.txt"
echo "== fast tests with the newest versions"
"$work/env/bin/python" -m pytest -q -m "not slow and not browser" "$@"
echo "== the newest versions pass the fast tests: scripts/lock.sh --upgrade, then the whole suite"
