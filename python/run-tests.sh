#!/usr/bin/env bash
# Build the snapaudit Python package into a virtualenv and test it:
# type stubs against the compiled module (mypy stubtest), the package's own
# typing (mypy), then the pytest suite.
#
#   python/run-tests.sh VENV [pytest args...]
#
# VENV is created when missing. Needs python3 (with venv), a Rust toolchain,
# and for the image fixtures e2fsprogs (mke2fs) and fdisk (sfdisk); only
# PyPI and crates.io are contacted.
#
# The extension is built in release mode: the tests read whole filesystems
# and the batch/overhead measurements of issue 4 are only meaningful
# optimised. SNAPAUDIT_PY_PROFILE=debug builds a debug extension instead
# (faster to build, for quick iterations).
set -euo pipefail

if [[ $# -lt 1 ]]; then
    echo "usage: $0 VENV [pytest args...]" >&2
    exit 2
fi
venv=$(realpath -m "$1")
shift
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
profile=${SNAPAUDIT_PY_PROFILE:-release}

log() { printf '== %s\n' "$*" >&2; }

if [[ ! -x "$venv/bin/python" ]]; then
    log "creating virtualenv $venv"
    python3 -m venv "$venv"
fi
py="$venv/bin/python"

log "installing build and test tools"
"$py" -m pip install --quiet --disable-pip-version-check "maturin>=1.9.4,<2" pytest mypy
# pandas is optional for users; the suite tests to_pandas() when it is there.
"$py" -m pip install --quiet --disable-pip-version-check pandas ||
    log "pandas could not be installed: the to_pandas() tests will be skipped"

log "building the extension ($profile)"
wheels=$(mktemp -d)
trap 'rm -rf "$wheels"' EXIT
build_flags=()
[[ $profile == release ]] && build_flags+=(--release)
start=$SECONDS
# `maturin build` + `pip install wheel` rather than `pip install ./python`:
# same result, but without pip fetching maturin into an isolated build env
# on every run. (`pip install ./python` works too.)
"$venv/bin/maturin" build --quiet "${build_flags[@]}" \
    --manifest-path "$here/Cargo.toml" --interpreter "$py" --out "$wheels"
log "built in $((SECONDS - start)) s"
"$py" -m pip install --quiet --disable-pip-version-check --force-reinstall --no-deps "$wheels"/snapaudit-*.whl

# Run from outside the source tree: ./snapaudit there has no compiled
# module and must not shadow the installed package.
cd "$venv"

log "stubtest: snapaudit/_native.pyi against the compiled module"
"$py" -m mypy.stubtest snapaudit._native

log "mypy: the package's own typing"
"$py" -m mypy --config-file "$here/pyproject.toml" -p snapaudit

log "pytest"
"$py" -m pytest -c "$here/pyproject.toml" --rootdir "$here" "$here/tests" "$@"
