#!/bin/sh
# Run torchdiffeq's own test suite against dynsim.learn: `import torchdiffeq` is answered by
# a throwaway package re-exporting dynsim.learn. torchdiffeq's tests/ directory is not part
# of this repository; fetch it from github.com/rtqichen/torchdiffeq (tests/*.py) first.
#
# Usage: scripts/run_torchdiffeq_tests.sh PATH/TO/torchdiffeq/tests [pytest arguments]
set -eu
repo=$(cd "$(dirname "$0")/.." && pwd)
tests=$(cd "${1:?usage: $0 PATH/TO/torchdiffeq/tests [pytest arguments]}" && pwd)
shift
shim=$(mktemp -d)
trap 'rm -rf "$shim"' EXIT
mkdir "$shim/torchdiffeq"
printf 'from dynsim.learn import odeint, odeint_adjoint, odeint_event  # noqa: F401\n' \
    > "$shim/torchdiffeq/__init__.py"
cd "$tests"
PYTHONPATH="$shim" "$repo/.venv/bin/python" -m pytest -q -p no:cacheprovider run_all.py "$@"
