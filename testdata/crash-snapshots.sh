#!/bin/bash
# Crash-consistent snapshots of a mounted ext3/ext4 filesystem, as a cloud
# snapshot of a running instance sees its root disk: the image file is
# loop-mounted, files are written and synced, and the image is copied
# WHILE STILL MOUNTED, so the copy has needs_recovery set and its newest
# metadata (with data=journal, data too) only in the journal.
#
# usage: crash-snapshots.sh OUTDIR   (as root; loop devices and mount)
#
# Writes OUTDIR/NAME.img for each variant below. Each holds
# /root/.ssh/id_ed25519 (a private key written just before the snapshot),
# /etc/fstab, /etc/hostname, and the free blocks of /root/old-key (another
# private key, deleted before the snapshot).
#   ordered      ext4 defaults (metadata_csum: journal csum v3, 64bit), data=ordered
#   journal      the same, data=journal (file data in the journal)
#   plain        ext4 -O ^metadata_csum,^64bit: 32-bit journal tags, no checksums
#   ext3         mkfs.ext3: an ext3 journal, block-mapped files
#   small-log    1 KiB blocks and a 1024-block journal written many times
#                over: the live log wraps around its end
#   uncommitted  "ordered" with the last transaction's commit block zeroed
set -euo pipefail

out=${1:?usage: crash-snapshots.sh OUTDIR}
mkdir -p "$out"
mnt=$(mktemp -d)
loop=
cleanup() {
    if mountpoint -q "$mnt"; then umount "$mnt"; fi
    if [ -n "$loop" ]; then losetup -d "$loop"; fi
    rmdir "$mnt"
}
trap cleanup EXIT

key=$(mktemp -u)
ssh-keygen -q -t ed25519 -N '' -C crash-snapshot -f "$key"
old=$(mktemp -u)
ssh-keygen -q -t ed25519 -N '' -C deleted -f "$old"

# snapshot NAME MKFS_CMD MOUNT_OPTS [EXTRA_WRITES]
snapshot() {
    local name=$1 mkfs=$2 opts=$3 img=$out/$1.base
    rm -f "$img"
    truncate -s 96M "$img"
    $mkfs -q -F "$img"
    loop=$(losetup -f --show "$img")
    mount -o "$opts" "$loop" "$mnt"
    mkdir -p "$mnt/etc" "$mnt/sbin" "$mnt/root/.ssh" "$mnt/var/log"
    # A file written and deleted before the snapshot.
    cp "$old" "$mnt/root/old-key"
    sync
    rm "$mnt/root/old-key"
    # A global sync writes the checkpointed metadata home too; from here
    # on only fsync is used, which commits to the journal alone.
    sync
    echo 'crash-snapshot' >"$mnt/etc/hostname"
    echo "UUID=$(blkid -s UUID -o value "$loop") / ext4 defaults 0 1" >"$mnt/etc/fstab"
    if [ "$name" = small-log ]; then
        # Many small transactions: the log is written round several times.
        local i
        for i in $(seq 1 400); do
            echo "line $i" >>"$mnt/var/log/messages"
            sync "$mnt/var/log/messages"
        done
    fi
    install -m 600 "$key" "$mnt/root/.ssh/id_ed25519"
    echo 'alias ll="ls -l"' >"$mnt/root/.bashrc"
    sync "$mnt/etc/hostname" "$mnt/etc/fstab" "$mnt/etc" "$mnt/root/.bashrc" \
        "$mnt/root/.ssh/id_ed25519" "$mnt/root/.ssh" "$mnt/root"
    # The snapshot: a copy of the image while it is mounted.
    cp --sparse=always "$img" "$out/$name.img"
    umount "$mnt"
    losetup -d "$loop"
    loop=
    rm -f "$img"
}

snapshot ordered "mkfs.ext4" data=ordered
snapshot journal "mkfs.ext4" data=journal
snapshot plain "mkfs.ext4 -O ^metadata_csum,^64bit" data=ordered
snapshot ext3 "mkfs.ext3" data=ordered
snapshot small-log "mkfs.ext4 -b 1024 -J size=1" data=ordered

# uncommitted: the newest transaction of "ordered" lost its commit block.
cp --sparse=always "$out/ordered.img" "$out/uncommitted.img"
last=$(debugfs -R logdump "$out/uncommitted.img" 2>/dev/null |
    sed -n 's/.*type 2 (commit block) at block \([0-9]*\).*/\1/p' | tail -1)
[ -n "$last" ] || { echo "no commit block in the journal" >&2; exit 1; }
bs=$(dumpe2fs -h "$out/uncommitted.img" 2>/dev/null | sed -n 's/^Block size: *//p')
fsblock=$(debugfs -R "bmap <8> $last" "$out/uncommitted.img" 2>/dev/null)
dd if=/dev/zero of="$out/uncommitted.img" bs="$bs" seek="$fsblock" count=1 conv=notrunc status=none

rm -f "$key" "$key.pub" "$old" "$old.pub"
