#!/usr/bin/env bash
# Run every test of snapaudit, Rust and Python, from a clean clone on a fresh
# Debian machine. Installs what it needs first: Debian packages (as root, or
# through sudo) and Python packages into a venv under target/.
#
# Usage: bash scripts/test-all.sh
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
step() { printf '\n==> %s\n' "$*"; }

# --- system tools the fixture factory and the tests call -------------------
# sfdisk/sgdisk build partition tables, mkfs.vfat the ESP fixtures, zstd
# decompresses committed fixtures; e2fsprogs is on every Debian machine.
need_pkgs=()
command -v sfdisk >/dev/null || need_pkgs+=(fdisk)
command -v sgdisk >/dev/null || need_pkgs+=(gdisk)
command -v mkfs.vfat >/dev/null || need_pkgs+=(dosfstools)
command -v mke2fs >/dev/null || need_pkgs+=(e2fsprogs)
command -v zstd >/dev/null || need_pkgs+=(zstd)
command -v python3 >/dev/null || need_pkgs+=(python3 python3-venv)
if ((${#need_pkgs[@]})); then
    step "installing Debian packages: ${need_pkgs[*]}"
    sudo_=""
    [ "$(id -u)" -eq 0 ] || sudo_="sudo"
    $sudo_ apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_ apt-get install -y -qq "${need_pkgs[@]}" >/dev/null
fi

step "style: cargo fmt, clippy"
cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings

step "Rust tests"
cargo test --workspace --locked

if [ -x python/run-tests.sh ] || [ -f python/run-tests.sh ]; then
    step "Python tests"
    # A debug build of the extension reuses the dependencies `cargo test`
    # just compiled; speed is measured by the benches, not here.
    SNAPAUDIT_PY_PROFILE="${SNAPAUDIT_PY_PROFILE:-debug}" bash python/run-tests.sh "$root/target/venv"
fi
