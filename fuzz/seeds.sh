#!/usr/bin/env bash
# Build the seed corpus of the fuzz targets into fuzz/seeds/TARGET/.
#
#   bash fuzz/seeds.sh            # (re)build fuzz/seeds/ (committed; ~15 s)
#
# Text targets get the config files of the fixture trees (testdata/, built
# by testdata/build-fixtures.sh), deduplicated by content. Image targets get
# tiny filesystems and disks made here with mke2fs -d from those trees,
# stored as their *prefix* up to the last non-zero byte: the fuzz targets
# pad their input with zeros to the size the seed claims (256 KiB volumes,
# 1 MiB disks; see fuzz/src/lib.rs `padded`), so libFuzzer mutates
# metadata, not the zeros behind it.
#
# The peer corpus (testdata/peer-corpus) is not copied here: run-all.sh
# passes its files to libFuzzer as extra seed directories when it exists.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
out=$root/fuzz/seeds
export PATH=$PATH:/usr/sbin:/sbin
# Reproducible images: the fixtures' mke2fs.conf and fixed times.
export MKE2FS_CONFIG=$root/testdata/mke2fs.conf
export E2FSPROGS_FAKE_TIME=1696161600
export SOURCE_DATE_EPOCH=1696161600
export LC_ALL=C

bash testdata/build-fixtures.sh >/dev/null
trees=${SNAPAUDIT_FIXTURES:-$root/target/fixtures}/trees
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

rm -rf "$out"
mkdir -p "$out"

# seed TARGET FILE [NAME]: copy FILE into the target's seeds, named by its
# content hash (so duplicates collapse) unless NAME is given.
seed() {
    local target=$1 file=$2 name=${3:-}
    [ -f "$file" ] || return 0
    mkdir -p "$out/$target"
    [ -n "$name" ] || name=$(sha1sum <"$file" | cut -c1-16)
    cp "$file" "$out/$target/$name"
}

# prefix FILE: cut FILE after its last non-zero byte (rounded up to 1 KiB).
prefix() {
    python3 -S - "$1" <<'EOF'
import sys
p = sys.argv[1]
b = open(p, 'rb').read()
end = len(b.rstrip(b'\0'))
end = (end + 1023) // 1024 * 1024
open(p, 'wb').write(b[:end])
EOF
}

# --- text targets: the fixture trees' config files -------------------------
for t in "$trees"/sys-* "$trees"/dirty-*; do
    [ -d "$t" ] || continue
    seed fstab "$t/etc/fstab"
    seed os_release "$t/etc/os-release"
    for r in "$t"/etc/*-release "$t"/etc/*_version; do seed os_release "$r"; done
    seed accounts "$t/etc/passwd"
    seed accounts "$t/etc/shadow"
    seed accounts "$t/etc/group"
    seed selinux "$t/etc/selinux/config"
    seed grub_legacy "$t/boot/grub/grub.conf"
    seed grub_legacy "$t/boot/grub/menu.lst"
    for cfg in "$t/boot/grub/grub.cfg" "$t/boot/grub2/grub.cfg"; do
        [ -f "$cfg" ] || continue
        env=${cfg%/grub.cfg}/grubenv
        # grubenv ‖ NUL line ‖ grub.cfg (fuzz/src/lib.rs `split2`).
        { [ -f "$env" ] && cat "$env"; printf '\n\0\n'; cat "$cfg"; } >"$work/grub2"
        seed grub2 "$work/grub2"
        # Kernel command lines: the linux lines' arguments.
        { grep -E '^\s*linux(16|efi)?\s' "$cfg" || true; } | head -3 | while read -r _ _ args; do
            printf '%s' "$args" >"$work/cmdline"
            seed cmdline "$work/cmdline"
        done
    done
    for e in "$t"/boot/loader/entries/*.conf; do
        [ -f "$e" ] || continue
        # file name ‖ NUL line ‖ entry.
        { printf '%s\n\0\n' "${e##*/}"; cat "$e"; } >"$work/bls"
        seed bls "$work/bls"
    done
done

# --- image targets ----------------------------------------------------------
# mkfs IMG OFFSET SIZE TREE [mke2fs args]: a 1 KiB-block ext4 at OFFSET in IMG.
mkfs_in() {
    local img=$1 off=$2 size=$3 tree=$4
    shift 4
    # Too small for a journal: mke2fs leaves it out (and says so).
    local uuid=${MK_UUID:-6c2b1c4e-3f1a-4d5e-8a9b-0c1d2e3f4a5b}
    mke2fs -q -F -t "${MK_TYPE:-ext4}" -b 1024 -U "$uuid" \
        -E "hash_seed=$uuid,offset=$off,root_owner=0:0" \
        -T default "$@" -d "$tree" "$img" $((size / 1024)) 2>&1 |
        { grep -v 'too small for a journal' || true; } | { grep . >&2 && return 1 || true; }
}

# A small tree with every kind of inode the readers handle: nested
# directories, a 40-entry directory (htree with 1 KiB blocks), fast and slow
# symlinks, a symlink loop, a hard link, a multi-block and a sparse file.
small=$work/small
mkdir -p "$small"/etc "$small"/d1/d2/d3 "$small"/many
printf 'hello\n' >"$small"/hello.txt
printf 'root:x:0:0:root:/root:/bin/bash\n' >"$small"/etc/passwd
printf 'LABEL=rootfs / ext4 defaults 0 1\n' >"$small"/etc/fstab
head -c 5000 /dev/zero | tr '\0' 'x' >"$small"/d1/d2/d3/multi-block
truncate -s 40960 "$small"/sparse
printf 'end' | dd of="$small"/sparse bs=1 seek=40000 conv=notrunc status=none
for i in $(seq -w 1 40); do : >"$small/many/f$i"; done
ln -s hello.txt "$small"/fast-link
ln -s "$(printf 'd1/%.0s' $(seq 1 20))../hello.txt" "$small"/slow-link
ln -s loop-b "$small"/loop-a
ln -s loop-a "$small"/loop-b
ln "$small"/hello.txt "$small"/d1/hardlink

# ext4_layout, ext4_fs: 256 KiB filesystems, one per on-disk variant.
for variant in ext4 inline ext2 nocsum; do
    img=$work/fs-$variant.img
    rm -f "$img"
    truncate -s 256K "$img"
    case $variant in
    ext4) mkfs_in "$img" 0 262144 "$small" -N 96 ;;
    inline) mkfs_in "$img" 0 262144 "$small" -N 96 -O inline_data ;;
    ext2) MK_TYPE=ext2 mkfs_in "$img" 0 262144 "$small" -N 96 -O ^dir_index ;;
    nocsum) mkfs_in "$img" 0 262144 "$small" -N 96 -O ^metadata_csum,^flex_bg,uninit_bg ;;
    esac
    prefix "$img"
    seed ext4_layout "$img" "fs-$variant"
    seed ext4_fs "$img" "fs-$variant"
done

# check, partition_table: 1 MiB system disks, root ext4 at sector 64, with
# the trees of three fixtures (GRUB 2, BLS, legacy GRUB). No inline_data:
# ext4-view 1.0 refuses it, and the audit would stop at the root.
for fixture in sys-clean-mbr sys-bls-rhel8 sys-legacy-grub-el6; do
    for table in mbr gpt; do
        [ "$table" = gpt ] && [ "$fixture" != sys-clean-mbr ] && continue
        img=$work/$fixture-$table.img
        rm -f "$img"
        truncate -s 1M "$img"
        if [ "$table" = mbr ]; then
            printf 'label: dos\nlabel-id: 0x5eed0001\nstart=64, type=83, bootable\n' |
                sfdisk -q "$img" >/dev/null
            off=32768
        else
            printf 'label: gpt\nlabel-id: 5EED0002-0000-4000-8000-000000000001\nfirst-lba: 64\nstart=64, size=1920, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4\n' |
                sfdisk -q "$img" >/dev/null
            off=32768
        fi
        # The fixture's root UUID, so that fstab and grub name this root.
        uuid=$(sed -n 's/^root\.uuid=//p' "$trees/../meta/$fixture.env")
        MK_UUID=$uuid mkfs_in "$img" "$off" $((960 * 1024)) "$trees/$fixture" -N 192 -L rootfs
        # For GPT, drop the backup header at the end of the disk so that the
        # prefix stays short: the seed is a disk with a valid primary GPT and
        # a missing backup (a warning, and the audit goes on).
        [ "$table" = gpt ] && truncate -s $((1024 * 1024 - 33 * 512)) "$img"
        prefix "$img"
        seed check "$img" "$fixture-$table"
        seed partition_table "$img" "$fixture-$table"
    done
done
# The MBR seed's first sectors are enough for the table reader.
for f in "$out"/partition_table/*; do
    head -c 65536 "$f" >"$work/pt" && mv "$work/pt" "$f"
done
seed probe "$work/fs-ext4.img" fs-ext4
seed probe "$work/fs-ext2.img" fs-ext2

# rpmdb: small databases holding three real package headers (the
# sa-filler packages of testdata/build-rpm-fixture.sh: no key material),
# as sqlite and as Berkeley DB hash, with 512-byte pages so that every
# header overflows; plus two bare header blobs. The fixture's own files
# (330 and 127 KB) are too large to commit.
# rpmdb-seeds-begin
rpm_fixture=$root/target/rpm-fixture
bash testdata/build-rpm-fixture.sh "$rpm_fixture"
mkdir -p "$out/rpmdb"
rpm_src=$rpm_fixture/root/var/lib/rpm/rpmdb.sqlite
rpm_pick="select hnum, blob from Packages where hnum in (2, 3, 4)"
rm -f "$work/rpmdb.sqlite"
sqlite3 "$work/rpmdb.sqlite" "pragma page_size=512; attach '$rpm_src' as src;
    create table Packages (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB NOT NULL);
    insert into Packages select hnum, blob from src.Packages where hnum in (2, 3, 4);"
cp "$work/rpmdb.sqlite" "$out/rpmdb/small.sqlite"
sqlite3 "$rpm_src" "select hnum, hex(blob) from Packages where hnum in (2, 3, 4)" |
    awk -F'|' '{
        printf "\\%02x\\00\\00\\00\n", $1
        out = ""
        for (i = 1; i <= length($2); i += 2) out = out "\\" tolower(substr($2, i, 2))
        print out
    }' >"$work/rpm.txt"
rm -f "$work/Packages"
db5.3_load -T -t hash -c db_pagesize=512 "$work/Packages" <"$work/rpm.txt"
cp "$work/Packages" "$out/rpmdb/small.bdb"
sqlite3 "$rpm_src" "select writefile('$out/rpmdb/header-2.bin', blob) from Packages where hnum = 2" >/dev/null
sqlite3 "$rpm_src" "select writefile('$out/rpmdb/header-3.bin', blob) from Packages where hnum = 3" >/dev/null
# rpmdb-seeds-end

# scan_stream: the fixtures' files with planted (fabricated) secrets, behind
# the target's 4-byte header (chunk size 17, piece seed 7, no path). They go
# to the uncommitted working corpus, not to seeds/: committed files that
# look like keys would trip every secret scanner that reads this repository.
scan_corpus=$root/fuzz/corpus/scan_stream
mkdir -p "$scan_corpus"
for t in dirty-secrets dirty-credentials-files dirty-lookalikes dirty-fragmented; do
    [ -d "$trees/$t" ] || continue
    find "$trees/$t/root" "$trees/$t/home" "$trees/$t/etc/ssh" "$trees/$t/opt" -type f -size -64k 2>/dev/null |
        while read -r f; do
            { printf '\x10\x00\x07\x00'; cat "$f"; } >"$work/scan"
            cp "$work/scan" "$scan_corpus/$(sha1sum <"$work/scan" | cut -c1-16)"
        done
done
printf 'scan_stream: %d files in %s (not committed)\n' "$(ls "$scan_corpus" | wc -l)" "$scan_corpus"

# --- lvm_metadata: metadata texts and PV starts the real lvm2 wrote ---------
lvm=${SNAPAUDIT_FIXTURES:-$root/target/fixtures}/lvm
bash testdata/build-lvm-fixtures.sh "$lvm" >/dev/null
mkdir -p "$out/lvm_metadata"
python3 -S - "$lvm" "$out/lvm_metadata" <<'EOF'
import glob, os, struct, sys
src, dst = sys.argv[1:]
for img in sorted(glob.glob(os.path.join(src, "lvm-*.img"))):
    name = os.path.basename(img)[:-4]
    with open(img, "rb") as f:
        head = f.read(4 << 20)
    # Each PV (the whole disk, or a partition starting at 1 MiB or later):
    # its first MiB, cut after the last non-zero byte; and its text.
    for pv in range(0, len(head) - 4096, 512):
        if head[pv + 512:pv + 520] != b"LABELONE":
            continue
        mda = pv + 4096
        size, = struct.unpack_from("<Q", head, mda + 32)
        off, n = struct.unpack_from("<QQ", head, mda + 40)
        first = head[mda + off:mda + min(off + n, size)]
        text = first + head[mda + 512:mda + 512 + n - len(first)]
        open(os.path.join(dst, f"{name}-{pv}.txt"), "wb").write(text)
        start = head[pv:pv + (1 << 20)]
        end = (len(start.rstrip(b"\0")) + 1023) // 1024 * 1024
        if off + n <= size:  # the text is in the prefix
            open(os.path.join(dst, f"{name}-{pv}.pv"), "wb").write(start[:end])
EOF

du -sh "$out"
for d in "$out"/*/; do printf '%-16s %3d files %6s\n' "$(basename "$d")" "$(ls "$d" | wc -l)" "$(du -sh "$d" | cut -f1)"; done
