#!/usr/bin/env bash
# Build a real rpm database for the rpmdb reader's tests and the
# dirty-rpm-* fixtures of build-fixtures.sh.
#
#   testdata/build-rpm-fixture.sh [OUTDIR]     (default: target/rpm-fixture)
#
# rpmbuild makes 25 tiny noarch packages from one generated spec:
# `sa-selftest` (a fabricated RSA key in /lib/sa-selftest/selftest.pem, a
# second one in /usr/share/sa-selftest/modified.pem, a %config file, a
# symlink, 80 data files so that its header is larger than a 4 KiB page)
# and 24 `sa-filler-N` (a few files each, so that the sqlite table has
# interior b-tree pages). `rpm --root --nodeps --noscripts -i` installs them.
#
# Output:
#   OUTDIR/root/                 the installed tree; var/lib/rpm/rpmdb.sqlite
#   OUTDIR/bdb/Packages          the same headers as a Berkeley DB hash
#                                database (db5.3_load -t hash), as rpm <= 4.15
#   OUTDIR/expected.tsv          what rpm itself says, one line per file:
#                                package, path, digest, algo, flags
#   OUTDIR/packages.txt          installed package names, sorted
#
# The key is made at build time by fixtool.py (never committed). The tree is
# left as installed: callers modify their copy of modified.pem.
# Idempotent (stamp = hash of this script and the rpm version), flock'ed.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TESTDATA=$HERE
# shellcheck source=lib.sh
. "$HERE/lib.sh"
need_tools rpmbuild:rpm rpm:rpm sqlite3:sqlite3 db5.3_load:db5.3-util python3:python3 flock:util-linux

OUT=${1:-$HERE/../target/rpm-fixture}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
exec 8>"$OUT/.lock"
flock 8
STAMP=$({ cat "$HERE/build-rpm-fixture.sh" "$HERE/fixtool.py"; rpm --version; db5.3_load -V; } | sha256sum | cut -c1-64)
if [ -f "$OUT/.stamp" ] && [ "$(cat "$OUT/.stamp")" = "$STAMP" ]; then
    exit 0
fi
rm -rf "$OUT/.stamp" "$OUT/root" "$OUT/bdb" "$OUT/work"
W=$OUT/work
mkdir -p "$W/src" "$OUT/root" "$OUT/bdb"

fixtool secret rsa-pem rpm-fixture/selftest >"$W/src/selftest.pem"
# A second key: a match whose bytes equal vendor content elsewhere is
# vendor content too, so the file to modify needs its own.
fixtool secret rsa-pem rpm-fixture/modified >"$W/src/modified.pem"
N_FILLERS=24
{
    cat <<'SPEC'
Name: sa-selftest
Version: 1.0
Release: 1
Summary: snapaudit test package with a self-test key
License: MIT
BuildArch: noarch
%description
A library test suite's self-test key, shipped on purpose.
%install
mkdir -p %{buildroot}/lib/sa-selftest %{buildroot}/usr/share/sa-selftest/data %{buildroot}/etc/sa-selftest
cp %{_sourcedir}/selftest.pem %{buildroot}/lib/sa-selftest/selftest.pem
cp %{_sourcedir}/modified.pem %{buildroot}/usr/share/sa-selftest/modified.pem
printf '[selftest]\nenabled = yes\n' > %{buildroot}/etc/sa-selftest/sa.conf
ln -s ../../lib/sa-selftest/selftest.pem %{buildroot}/usr/share/sa-selftest/link.pem
for i in $(seq 1 80); do printf 'data file %s\n' "$i" > %{buildroot}/usr/share/sa-selftest/data/file-with-a-long-name-$i.txt; done
SPEC
    for i in $(seq 1 $N_FILLERS); do
        echo "mkdir -p %{buildroot}/usr/share/sa-filler-$i"
        echo "for j in 1 2 3; do printf 'filler $i %s\\n' \$j > %{buildroot}/usr/share/sa-filler-$i/f\$j; done"
    done
    cat <<'SPEC'
%files
/lib/sa-selftest/selftest.pem
/usr/share/sa-selftest/modified.pem
/usr/share/sa-selftest/link.pem
/usr/share/sa-selftest/data
%config(noreplace) /etc/sa-selftest/sa.conf
SPEC
    for i in $(seq 1 $N_FILLERS); do
        printf '%%package -n sa-filler-%s\nSummary: filler %s\n%%description -n sa-filler-%s\nFiller package %s.\n' "$i" "$i" "$i" "$i"
        printf '%%files -n sa-filler-%s\n/usr/share/sa-filler-%s\n' "$i" "$i"
    done
} >"$W/sa-selftest.spec"

# Reproducible headers: fixed build time and host.
export SOURCE_DATE_EPOCH=1700000000
rpmbuild -bb --quiet \
    --define "_topdir $W/top" --define "_sourcedir $W/src" \
    --define "_buildhost fixtures.snapaudit" \
    --define "use_source_date_epoch_as_buildtime 1" \
    --define "_binary_payload w9.gzdio" \
    "$W/sa-selftest.spec" >"$W/rpmbuild.log" 2>&1 || {
    cat "$W/rpmbuild.log" >&2
    exit 1
}
# Debian's rpm defaults to ~/.rpmdb: name the RHEL path.
rpmq() { rpm --root "$OUT/root" --dbpath /var/lib/rpm "$@"; }
rpmq --nodeps --noscripts --ignorearch -i "$W"/top/RPMS/noarch/*.rpm 2>"$W/rpm.log" || {
    cat "$W/rpm.log" >&2
    exit 1
}
rm -f "$OUT/root/var/lib/rpm/.rpm.lock" "$OUT/root/var/lib/rpm/rpmdb.sqlite-shm" "$OUT/root/var/lib/rpm/rpmdb.sqlite-wal"

rpmq -qa --qf '[%{=NAME}\t%{FILENAMES}\t%{FILEDIGESTS}\t%{=FILEDIGESTALGO}\t%{FILEFLAGS}\n]' |
    sort >"$OUT/expected.tsv"
rpmq -qa --qf '%{NAME}\n' | sort >"$OUT/packages.txt"

# The same headers as rpm <= 4.15's Berkeley DB hash: keys are header
# numbers as host-order (little-endian here) 32-bit integers, data the
# blobs. db5.3_load -T reads printable text with \xx escapes.
sqlite3 "$OUT/root/var/lib/rpm/rpmdb.sqlite" 'select hnum, hex(blob) from Packages order by hnum' |
    awk -F'|' '{
        printf "\\%02x\\%02x\\%02x\\%02x\n", $1 % 256, int($1 / 256) % 256, int($1 / 65536) % 256, int($1 / 16777216)
        out = ""
        for (i = 1; i <= length($2); i += 2) out = out "\\" tolower(substr($2, i, 2))
        print out
    }' >"$W/packages.txt"
db5.3_load -T -t hash -c db_pagesize=4096 "$OUT/bdb/Packages" <"$W/packages.txt"

echo "$STAMP" >"$OUT/.stamp"
