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
# command:Debian package. sfdisk/sgdisk/fdisk build partition tables, mkfs.*
# and cryptsetup the non-ext probe fixtures, zstd the committed sample disk,
# rpm, db5.3-util and sqlite3 the rpm database of build-rpm-fixture.sh,
# qemu-img (qemu-utils) the container tests' oracle.
tools=(
    mke2fs:e2fsprogs debugfs:e2fsprogs e2fsck:e2fsprogs
    sfdisk:fdisk fdisk:fdisk sgdisk:gdisk mkfs.vfat:dosfstools
    mkswap:util-linux flock:util-linux blkid:util-linux
    mkfs.xfs:xfsprogs mkfs.btrfs:btrfs-progs cryptsetup:cryptsetup-bin
    zstd:zstd python3:python3 awk:mawk qemu-img:qemu-utils qemu-io:qemu-utils
    tar:tar gzip:gzip
    ssh-keygen:openssh-client losetup:mount mount:mount
    pvcreate:lvm2
    rpmbuild:rpm rpm:rpm db5.3_load:db5.3-util sqlite3:sqlite3
    qemu-img:qemu-utils setpriv:util-linux kill:procps zsh:zsh fish:fish groff:groff-base
)
export PATH="$PATH:/usr/sbin:/sbin"
need_pkgs=()
for pair in "${tools[@]}"; do
    # type -P: an executable on PATH, not a shell builtin (kill is both).
    type -P "${pair%%:*}" >/dev/null 2>&1 || need_pkgs+=("${pair#*:}")
done
if ((${#need_pkgs[@]})); then
    mapfile -t need_pkgs < <(printf '%s\n' "${need_pkgs[@]}" | sort -u)
    step "installing Debian packages: ${need_pkgs[*]}"
    sudo_=""
    [ "$(id -u)" -eq 0 ] || sudo_="sudo"
    $sudo_ apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_ apt-get install -y -qq "${need_pkgs[@]}" >/dev/null
fi
python3 -c 'import venv' 2>/dev/null || {
    echo "python3 lacks the venv module: apt-get install -y python3-venv" >&2
    exit 1
}

step "self-contained: no tracked file reads the steering repo"
# A fresh clone has nothing beside it; every corpus and document the project
# uses is committed under testdata/ or docs/. (The pattern is split so that
# this line does not match itself.)
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    outside='\.\./'"shared"
    if git ls-files -z | xargs -0 grep -ln -e "$outside" -- 2>/dev/null; then
        echo "the files above refer to the steering repo's shared folder; use testdata/ or docs/" >&2
        exit 1
    fi
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
