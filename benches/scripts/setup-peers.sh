#!/usr/bin/env bash
# Install the peer tools that benches/scripts/compare.sh measures snapaudit
# against, idempotently, and print their versions.
#
#   benches/scripts/setup-peers.sh            # installs into target/bench/venv
#   BENCH_DIR=/elsewhere benches/scripts/setup-peers.sh
#
# Python peers come from PyPI into a venv of their own (so they never touch the
# interpreter the project's tests use); native peers come from Debian's
# packages. Versions are pinned so that numbers in the README can be
# reproduced; override with e.g. DISSECT_TARGET_VERSION=... if needed.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
bench_dir="${BENCH_DIR:-$repo/target/bench}"
venv="$bench_dir/venv"

# Pinned to what was current on PyPI when the README numbers were taken.
DISSECT_TARGET_VERSION="${DISSECT_TARGET_VERSION:-3.25.1}"
KINGFISHER_VERSION="${KINGFISHER_VERSION:-2.14.0}"
DETECT_SECRETS_VERSION="${DETECT_SECRETS_VERSION:-1.5.0}"

log() { printf 'setup-peers: %s\n' "$*" >&2; }

# --- Debian packages -------------------------------------------------------
# ripgrep, zerofree and hyperfine are peers / the timing harness;
# debootstrap, e2fsprogs (mke2fs -d, debugfs), fdisk (sfdisk) and
# openssh-client (ssh-keygen) build the benchmark image.
debs=(ripgrep zerofree hyperfine debootstrap e2fsprogs fdisk openssh-client jq)
missing=()
for p in "${debs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
    log "apt-get install ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# --- PyPI packages into the bench venv ------------------------------------
want=("dissect.target[full]==$DISSECT_TARGET_VERSION"
      "kingfisher-bin==$KINGFISHER_VERSION"
      "detect-secrets==$DETECT_SECRETS_VERSION")
if [[ ! -x "$venv/bin/python" ]]; then
    log "creating venv $venv"
    mkdir -p "$bench_dir"
    python3 -m venv "$venv"
fi
have_all=1
for spec in dissect.target=="$DISSECT_TARGET_VERSION" kingfisher-bin=="$KINGFISHER_VERSION" \
            detect-secrets=="$DETECT_SECRETS_VERSION"; do
    name="${spec%%==*}"; ver="${spec##*==}"
    got="$("$venv/bin/python" -m pip show "$name" 2>/dev/null | sed -n 's/^Version: //p' || true)"
    [[ "$got" == "$ver" ]] || have_all=0
done
if ((!have_all)); then
    log "pip install ${want[*]}"
    "$venv/bin/python" -m pip install -q --upgrade pip >/dev/null
    "$venv/bin/python" -m pip install -q "${want[@]}"
fi

# --- versions (and a smoke test that each one actually runs here) ---------
vbin="$venv/bin"
{
    printf 'python\t%s\n' "$("$vbin/python" --version 2>&1)"
    printf 'dissect.target\t%s\n' "$("$vbin/python" -m pip show dissect.target | sed -n 's/^Version: //p')"
    printf 'target-query\t%s\n' "$("$vbin/target-query" --help >/dev/null 2>&1 && echo runs || echo FAILS)"
    kf_version="$("$vbin/kingfisher" --version 2>&1 || true)"
    printf 'kingfisher\t%s\n' "${kf_version%%$'\n'*}"
    printf 'detect-secrets\t%s\n' "$("$vbin/detect-secrets" --version 2>&1)"
    rg_version="$(rg --version)"
    printf 'rg\t%s\n' "${rg_version%%$'\n'*}"
    printf 'hyperfine\t%s\n' "$(hyperfine --version)"
    printf 'zerofree\t%s\n' "$(dpkg-query -W -f='${Version}' zerofree)"
    printf 'debootstrap\t%s\n' "$(dpkg-query -W -f='${Version}' debootstrap)"
    printf 'e2fsprogs\t%s\n' "$(dpkg-query -W -f='${Version}' e2fsprogs)"
} | tee "$bench_dir/peer-versions.tsv"
