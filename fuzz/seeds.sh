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

# container_qcow2: small qcow2 files of a 1 MiB disk with four data runs,
# in the variants the reader handles (4 KiB and 512 B clusters, deflate and
# zstd, compat 0.10, extended L2) and a backing-file reference.
mkdir -p "$out/container_qcow2"
python3 - "$work/seed.raw" <<'PY'
import sys
with open(sys.argv[1], "wb") as f:
    f.truncate(1 << 20)
    for i, at in enumerate((0, 70000, 1 << 19, (1 << 20) - 700)):
        f.seek(at)
        f.write(bytes((j * 7 + i) % 251 for j in range(600)))
PY
for v in "-o cluster_size=4096" "-c -o cluster_size=4096" "-o compat=0.10,cluster_size=4096" \
    "-o extended_l2=on,cluster_size=16384" "-o cluster_size=512" \
    "-c -o compression_type=zstd,cluster_size=4096"; do
    # shellcheck disable=SC2086
    qemu-img convert -O qcow2 $v "$work/seed.raw" "$out/container_qcow2/q$(echo "$v" | tr ' =,-' '____').qcow2"
done
qemu-img create -q -f qcow2 -u -o cluster_size=4096 -b base.raw -F raw "$out/container_qcow2/backing.qcow2" 1M

# --- container_vhd / container_vhdx: small images --------------------------
# qemu-img writes the fixed and the empty dynamic VHD and the VHDX; a
# dynamic VHD with 4 KiB blocks (three allocated, partial sector bitmaps)
# and a differencing VHD over it (W2ru and W2ku parent locators) are
# written here from the specification (qemu writes only 2 MiB blocks and no
# differencing disks). The VHDX seed is the file's prefix up to the end of
# its last region, its log region zeroed: the target zero-extends it.
if command -v qemu-img >/dev/null 2>&1; then
    mkdir -p "$out/container_vhd" "$out/container_vhdx"
    head -c 65536 /dev/zero | tr '\0' 'v' >"$work/vhd.raw"
    qemu-img convert -q -f raw -O vpc -o subformat=fixed "$work/vhd.raw" "$out/container_vhd/fixed.vhd"
    qemu-img create -q -f vpc "$out/container_vhd/empty-dynamic.vhd" 1M
    python3 -S - "$out/container_vhd" <<'EOF'
import struct, sys
out = sys.argv[1]
def csum(b, at):
    b[at:at + 4] = b'\0' * 4
    b[at:at + 4] = struct.pack('>I', ~sum(b) & 0xffffffff)
def vhd(disk_type, locators):
    block, size = 4096, 64 * 1024
    entries = size // block
    footer = bytearray(512)
    footer[0:8] = b'conectix'
    struct.pack_into('>IIQI4sI4sQQHBBI', footer, 8, 2, 0x10000, 512, 0, b'win ', 0x10000,
                     b'Wi2k', size, size, 16, 4, 2, disk_type)
    footer[68:84] = bytes(range(16))
    csum(footer, 64)
    header = bytearray(1024)
    header[0:8] = b'cxsparse'
    struct.pack_into('>QQIII', header, 8, 2**64 - 1, 2560, 0x10000, entries, block)
    header[64:64 + 20] = 'parent.vhd'.encode('utf-16-be')
    data = {}
    at = 1536
    for n, (code, path) in enumerate(locators):
        raw = path.encode('utf-16-le')
        struct.pack_into('>4sIIIQ', header, 576 + n * 24, code, 512, len(raw), 0, at)
        data[at] = raw
        at += 512
    csum(header, 36)
    bat = bytearray(b'\xff' * 512)
    at = 3072
    for n, (index, bitmap) in enumerate([(0, b'\xff'), (3, b'\xa5'), (9, b'\x80')]):
        struct.pack_into('>I', bat, index * 4, at // 512)
        data[at] = bitmap
        data[at + 512] = bytes([0x40 + n]) * block
        at += 512 + block
    f = bytearray(at + 512)
    f[0:512] = footer
    f[512:1536] = header
    f[2560:3072] = bat
    for k, v in data.items():
        f[k:k + len(v)] = v
    f[at:at + 512] = footer
    return f
open(out + '/dynamic-4k-blocks.vhd', 'wb').write(vhd(3, []))
open(out + '/differencing.vhd', 'wb').write(
    vhd(4, [(b'W2ku', 'C:\\vms\\parent.vhd'), (b'W2ru', '.\\parent.vhd')]))
EOF
    qemu-img convert -q -f raw -O vhdx -o block_size=1M "$work/vhd.raw" "$work/seed.vhdx"
    python3 -S - "$work/seed.vhdx" "$out/container_vhdx/small.vhdx" <<'EOF'
import struct, sys
b = bytearray(open(sys.argv[1], 'rb').read())
# The end of the last region (BAT or metadata), from region table 1.
t = b[192 * 1024:256 * 1024]
end = max(sum(struct.unpack_from('<QI', t, 32 + n * 32))
          for n in range(struct.unpack_from('<I', t, 8)[0]))
b[1 << 20:2 << 20] = bytes(1 << 20)  # the log region: empty, LogGuid is zero
b = b[:end]
open(sys.argv[2], 'wb').write(b[:len(b.rstrip(b'\0'))])
EOF
else
    echo "qemu-img not found (apt-get install -y qemu-utils): no container seeds" >&2
fi

# sparse_tar: GNU tar's sparse formats (old GNU with extension blocks,
# PAX 0.0, 0.1, 1.0) and a plain member, of a small sparse file, with a
# 512-byte blocking factor so that no record padding follows the archive.
# sparse-tar-seeds-begin
mkdir -p "$work/sparse"
truncate -s 1M "$work/sparse/d.raw"
for i in 1 2 3 4 5 6; do
    printf 'run%d' "$i" | dd of="$work/sparse/d.raw" bs=1 seek=$((i * 131072 + i * 100)) conv=notrunc 2>/dev/null
done
tar_seed() {
    local name=$1
    shift
    tar --mtime=@1696161600 --owner=0 --group=0 --numeric-owner -b 1 "$@" \
        -cf "$work/$name.tar" -C "$work/sparse" d.raw
    seed sparse_tar "$work/$name.tar" "$name.tar"
}
tar_seed gnu-sparse -S --format=gnu
tar_seed pax-0.0 -S --format=posix --sparse-version=0.0 --pax-option=delete=atime,delete=ctime
tar_seed pax-0.1 -S --format=posix --sparse-version=0.1 --pax-option=delete=atime,delete=ctime
tar_seed pax-1.0 -S --format=posix --sparse-version=1.0 --pax-option=delete=atime,delete=ctime
truncate -s 4096 "$work/sparse/d.raw"
tar_seed plain --format=gnu
# sparse-tar-seeds-end

# jbd2_replay: journals of 1024 1 KiB blocks written by debugfs's journal
# writer (e2fsprogs >= 1.46), stored up to their last non-zero byte: no
# checksum (32-bit), checksum v3 with 64bit, a revoke (one transaction each:
# debugfs's writer starts the log over at each jo).
jbd2_seed() {
    local name=$1 mkfs_opts=$2 writes=$3 img=$work/jbd2.img
    rm -f "$img"
    mke2fs -q -F -t ext4 -b 1024 -J size=1 $mkfs_opts "$img" 4096
    printf "jbd2-seed %04d\n" $(seq 1 250) | head -c 3072 >"$work/jbd2.blk"
    printf '%b' "$writes" | debugfs -w -f - "$img" >/dev/null 2>&1
    debugfs -R "dump <8> $work/jbd2.journal" "$img" >/dev/null 2>&1
    # Trailing zeros off: the target pads them back.
    python3 -c 'import sys; d=open(sys.argv[1],"rb").read().rstrip(b"\0"); open(sys.argv[2],"wb").write(d)' \
        "$work/jbd2.journal" "$out/jbd2_replay/$name"
}
mkdir -p "$out/jbd2_replay"
jbd2_seed plain "-O ^metadata_csum,^64bit" "jo\\njw -b 100,101 $work/jbd2.blk\\njc\\n"
jbd2_seed revoke "-O ^metadata_csum,^64bit" "jo\\njw -r 101,102\\njc\\n"
jbd2_seed csum-v3 "-O metadata_csum,64bit" "jo -c\\njw -b 100,101,102 $work/jbd2.blk\\njc\\n"

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

# container-seeds-begin
# container_vmdk, container_vdi: what qemu-img writes for a 1 MiB disk with
# data in its first grain/block, cut after the last non-zero byte (the
# targets pad inputs with zeros to 256 KiB / 1 MiB + 4 KiB). VMDK inputs are
# `extent.vmdk ‖ NUL line ‖ disk.vmdk` (fuzz/src/lib.rs `split2`).
truncate -s 1M "$work/c.raw"
printf 'a seed sector of the container targets' | dd of="$work/c.raw" bs=1 seek=1000 conv=notrunc status=none
mkdir -p "$work/c" "$out/container_vmdk" "$out/container_vdi"
for sub in monolithicSparse streamOptimized twoGbMaxExtentSparse; do
    rm -f "$work/c/"*
    qemu-img convert -f raw -O vmdk -o subformat=$sub "$work/c.raw" "$work/c/disk.vmdk"
    if [ $sub = twoGbMaxExtentSparse ]; then
        prefix "$work/c/disk-s001.vmdk"
        sed 's/"disk-s001.vmdk"/"extent.vmdk"/' "$work/c/disk.vmdk" | tr -d '\0' >"$work/c/desc"
        { cat "$work/c/disk-s001.vmdk"; printf '\n\0\n'; cat "$work/c/desc"; } >"$out/container_vmdk/$sub"
    else
        prefix "$work/c/disk.vmdk"
        cp "$work/c/disk.vmdk" "$out/container_vmdk/$sub"
    fi
done
{ head -c 4096 "$work/c.raw"; printf '\n\0\n'
  printf '# Disk DescriptorFile\nversion=1\ncreateType="monolithicFlat"\nRW 8 FLAT "extent.vmdk" 0\nRW 504 ZERO\n'
} >"$out/container_vmdk/monolithicFlat"
for type in dynamic static; do
    opt=$([ $type = static ] && echo "-o static=on" || true)
    qemu-img convert -f raw -O vdi $opt "$work/c.raw" "$work/c/disk.vdi"
    prefix "$work/c/disk.vdi"
    cp "$work/c/disk.vdi" "$out/container_vdi/$type"
done
# container-seeds-end

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
