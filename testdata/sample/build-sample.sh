#!/usr/bin/env bash
# Build the README's sample system disk and its committed compressed copy.
#
#   testdata/sample/build-sample.sh [OUTDIR]
#
# Writes OUTDIR/system-disk.raw (default target/sample; 97 MiB, sparse) and
# testdata/sample/system-disk.raw.zst (zstd -19, committed; snapaudit opens
# .zst directly). A believable Debian 12 cloud image on an MBR disk with a
# handful of planted problems, so that `snapaudit check` on it shows what
# the tool is for. testdata/FIXTURES.md lists the expected findings.
#
# Run it after changing the recipe and commit the new .zst. Needs, besides
# the fixture tools: zstd.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TESTDATA=$(cd "$HERE/.." && pwd)
# shellcheck source=../lib.sh
. "$TESTDATA/lib.sh"

need_tools mke2fs:e2fsprogs debugfs:e2fsprogs dumpe2fs:e2fsprogs sfdisk:fdisk \
    python3:python3 zstd:zstd md5sum:coreutils

OUT=${1:-$TESTDATA/../target/sample}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
IMG=$OUT/system-disk.raw
TREE=$OUT/tree
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

FS_SIZE=$((96 * MiB)) # keeps >64 MiB free: no fs.free-space finding
ROOT_OFF=$MiB
ROOT_UUID=$(mkuuid sample/root)
DATA_UUID=$(mkuuid sample/data-disk) # a data disk that is not in this image
SIG=$(mkdiskid sample/disk)

sec() { fixtool secret "$@"; }

# --- the tree -------------------------------------------------------------------
[ -d "$TREE" ] && chmod -R u+rwX "$TREE"
rm -rf "$TREE"
RF_ROOT_UUID=$ROOT_UUID RF_EFI_UUID="" RF_TABLE=msdos RF_OWNERS=$WORK/owners RF_USRMERGE=1
: >"$RF_OWNERS"
rootfs_debian "$TREE"

# 1. fstab line 12: the data disk of the original VM (fstab.data-disk).
printf 'UUID=%s /data           ext4    defaults        0       2\n' "$DATA_UUID" >>"$TREE/etc/fstab"
d data

# 2. SSH host keys of the original VM (hygiene.ssh-host-keys).
for t in ecdsa ed25519 rsa; do
    sec "ssh-$t" "sample/host-$t" --comment root@web-01 --pub "$TREE/etc/ssh/ssh_host_${t}_key.pub" |
        w "etc/ssh/ssh_host_${t}_key" 0600
done

# 3. machine-id of the original VM (hygiene.machine-id).
printf '%s\n' "$(sec hex sample/machine-id --length 16)" | w etc/machine-id 0444
printf 'web-01\n' | w etc/hostname

# 4. root's shell history with a password on a command line
#    (hygiene.shell-history, secret.password on line 4).
w root/.bash_history 0600 <<EOF
apt-get update
apt-get install -y mariadb-client awscli
systemctl enable --now nginx
mysql -h db.internal -u admin -p$(sec password sample/mysql) shop
vi /etc/nginx/sites-available/shop
exit
EOF

# 5. An AWS key pair in a user's backup script (secret.cloud-access-key).
w home/user/bin/backup.sh 0755 <<EOF
#!/bin/sh
# Nightly upload of the shop database dump.
set -e
export AWS_ACCESS_KEY_ID=$(sec aws-key-id sample/aws)
export AWS_SECRET_ACCESS_KEY=$(sec aws-secret sample/aws)
mysqldump shop | gzip | aws s3 cp - s3://shop-backups/\$(date +%F).sql.gz
EOF
own 1000 1000 home/user/bin home/user/bin/backup.sh

# Some ordinary content, so the image is not only problems.
printf 'server {\n    listen 80 default_server;\n    root /var/www/shop;\n    index index.html;\n}\n' |
    w etc/nginx/sites-available/shop
l ../sites-available/shop etc/nginx/sites-enabled/shop
printf '<!doctype html>\n<title>shop</title>\n<h1>It works</h1>\n' | w var/www/shop/index.html
bin usr/sbin/nginx usr/bin/mysql usr/bin/aws
# The directory the deleted key lived in (empty now).
d root/.ssh
chmod 0700 "$TREE/root/.ssh"
rf_fix_mtimes "$TREE"

# --- the disk -------------------------------------------------------------------
rm -f "$IMG"
truncate -s $((MiB + FS_SIZE)) "$IMG"
sfdisk -q --no-reread --no-tell-kernel "$IMG" >/dev/null <<EOF
label: dos
label-id: $SIG
unit: sectors

start=2048, size=$((FS_SIZE / 512)), type=83, bootable
EOF
mkext4 "$IMG" "$ROOT_OFF" "$FS_SIZE" "$ROOT_UUID" rootfs "$TREE"
DEV="$IMG?offset=$ROOT_OFF"

# 6. root's old private key, deleted: free in the bitmap, still in the
#    block (secret.deleted).
sec rsa-pem sample/old-key >"$WORK/id_rsa"
printf 'cd /root/.ssh\nwrite %s id_rsa\n' "$WORK/id_rsa" | dbg "$DEV"
DELETED_BLOCK=$(block_of "$DEV" /root/.ssh/id_rsa 0)
rm_files "$DEV" /root/.ssh/id_rsa
fs_fixup "$DEV" "$TREE" "$RF_OWNERS"

dd if="$IMG" bs=4096 iflag=skip_bytes skip=$((ROOT_OFF + DELETED_BLOCK * 4096)) count=1 status=none |
    grep -q 'PRIVATE KEY' || die "sample: deleted key not found in block $DELETED_BLOCK"
e2fsck -fn "$DEV" >/dev/null 2>&1 || die "sample: e2fsck -fn failed"

cat >"$OUT/system-disk.env" <<EOF
root.uuid=$ROOT_UUID
root.offset_bytes=$ROOT_OFF
fstab.line=12
foreign.uuid=$DATA_UUID
deleted.path=/root/.ssh/id_rsa
deleted.offset_bytes=$((ROOT_OFF + DELETED_BLOCK * 4096))
EOF

zstd -q -19 -f "$IMG" -o "$HERE/system-disk.raw.zst"
size=$(stat -c %s "$HERE/system-disk.raw.zst")
[ "$size" -lt $((1024 * 1024)) ] || die "sample: compressed image is $size bytes (limit 1 MiB)"
printf 'build-sample: %s (%s bytes compressed), deleted key at byte %s\n' \
    "$HERE/system-disk.raw.zst" "$size" $((ROOT_OFF + DELETED_BLOCK * 4096)) >&2
