#!/usr/bin/env bash
# Build the LVM2 and LUKS fixture disks into OUTDIR with the real tools.
#
#   testdata/build-lvm-fixtures.sh OUTDIR
#
# lvm2 writes the labels and metadata (pvcreate/vgcreate/lvcreate on loop
# devices of the fixture files, one loop device per PV partition, made with
# losetup --offset/--sizelimit). Device-mapper may be absent, so no LV is
# ever activated (-an, --zero n, --driverloaded n): the filesystems are
# built in files and copied to where `lvs --segments` says each LV's
# extents are. Layouts lvcreate cannot make without device-mapper (a thin
# pool) are written by vgcfgrestore from an edited vgcfgbackup.
#
# The host's LVM is not touched: LVM_SYSTEM_DIR points at a private lvm.conf
# that accepts only this script's loop devices, with no devices file,
# backups or archives; the loop devices are detached in a trap.
#
# Output, per fixture NAME:
#   OUTDIR/NAME.img       the disk
#   OUTDIR/NAME.lvs.json  `lvs -a --segments --reportformat json` (bytes)
#   OUTDIR/NAME.pvs       "device partition pv_disk_offset_bytes" per PV
#   OUTDIR/NAME.*.fs      the filesystem images copied into LVs (for debugfs)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TESTDATA=$HERE
# shellcheck source=lib.sh
. "$HERE/lib.sh"

OUT=${1:?usage: build-lvm-fixtures.sh OUTDIR}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

need_tools pvcreate:lvm2 vgcreate:lvm2 lvcreate:lvm2 losetup:mount \
    cryptsetup:cryptsetup-bin mke2fs:e2fsprogs debugfs:e2fsprogs \
    sfdisk:fdisk sgdisk:gdisk mkswap:util-linux flock:util-linux python3:python3

exec 9>"$OUT/.lvm-lock"
flock 9
STAMP=$(cat "$HERE/build-lvm-fixtures.sh" "$HERE/rootfs.sh" "$HERE/lib.sh" | sha256sum | cut -c1-64)
if [ -f "$OUT/.lvm-stamp" ] && [ "$(cat "$OUT/.lvm-stamp")" = "$STAMP" ]; then
    exit 0
fi
rm -f "$OUT/.lvm-stamp"

WORK=$(mktemp -d "$OUT/.lvm-work.XXXXXX")
export LVM_SYSTEM_DIR=$WORK/etc LVM_SUPPRESS_FD_WARNINGS=1
mkdir -p "$LVM_SYSTEM_DIR"
LOOPS=()
cleanup() {
    local l
    for l in "${LOOPS[@]}"; do
        losetup -d "$l" 2>/dev/null || true
    done
    rm -rf "$WORK"
}
trap cleanup EXIT

# lvm.conf accepting only the loop devices attached so far.
write_conf() {
    local accept="" l
    for l in "${LOOPS[@]}"; do
        accept+="\"a|^$l\$|\", "
    done
    cat >"$LVM_SYSTEM_DIR/lvm.conf" <<EOF
devices { filter = [ ${accept}"r|.*|" ] global_filter = [ ${accept}"r|.*|" ] use_devicesfile = 0 obtain_device_list_from_udev = 0 }
activation { udev_sync = 0 udev_rules = 0 }
backup { backup = 0 archive = 0 }
EOF
}

# attach IMG OFFSET SIZE: a loop device over that range; prints its name.
attach() {
    local l
    l=$(losetup -f --show -o "$2" --sizelimit "$3" "$1")
    LOOPS+=("$l")
    write_conf
    LAST_LOOP=$l
}

detach_all() {
    local l
    for l in "${LOOPS[@]}"; do
        losetup -d "$l"
    done
    LOOPS=()
    write_conf
}

lv() { lvcreate -q -an --zero n --driverloaded n -y "$@" >/dev/null 2>&1 || lvcreate -an --zero n --driverloaded n -y "$@"; }

# record NAME VG: lvs/pvs of the VG for the tests.
record() {
    lvs -a --segments --units b --nosuffix --reportformat json \
        -o lv_name,vg_name,lv_attr,segtype,seg_start_pe,seg_size_pe,stripes,stripe_size,seg_pe_ranges,vg_extent_size \
        "$2" >"$OUT/$1.lvs.json" 2>/dev/null
    : >"$OUT/$1.pvs"
    local dev pe
    for i in "${!PV_DEVS[@]}"; do
        dev=${PV_DEVS[$i]}
        pe=$(pvs --noheadings --units b --nosuffix -o pe_start "$dev" 2>/dev/null | tr -d ' ')
        echo "$dev ${PV_PARTS[$i]} $((PV_STARTS[$i] + pe))" >>"$OUT/$1.pvs"
    done
}

# place NAME LV FSFILE: copy FSFILE into LV's extents (as lvs reports them).
place() {
    python3 - "$OUT/$1.lvs.json" "$OUT/$1.pvs" "$2" "$3" "$OUT/$1.img" <<'EOF'
import json, sys
lvs, pvs, lv, fsfile, img = sys.argv[1:]
rows = [r for r in json.load(open(lvs))["report"][0]["seg"] if r["lv_name"] == lv]
where = {}
for line in open(pvs):
    dev, _part, off = line.split()
    where[dev] = int(off)
src = open(fsfile, "rb")
dst = open(img, "r+b")
for r in rows:
    ext = int(r["vg_extent_size"])
    start = int(r["seg_start_pe"]) * ext
    size = int(r["seg_size_pe"]) * ext
    areas = []
    for a in r["seg_pe_ranges"].split():
        dev, rng = a.rsplit(":", 1)
        areas.append(where[dev] + int(rng.split("-")[0]) * ext)
    n = len(areas)
    chunk = int(r["stripe_size"]) if n > 1 else size
    # dm-stripe: chunk i of the segment is on stripe i % n, row i // n.
    for i in range(size // chunk):
        src.seek(start + i * chunk)
        dst.seek(areas[i % n] + (i // n) * chunk)
        dst.write(src.read(chunk))
EOF
}

# mkfs_file FILE SIZE_BYTES LABEL [TREE]: an ext4 image in a file.
mkfs_file() {
    rm -f "$1"
    truncate -s "$2" "$1"
    mke2fs -q -F -t ext4 -T default -b 4096 -L "$3" -U "$(mkuuid "$1")" -E root_owner=0:0 \
        ${4:+-d "$4"} "$1"
}

# A small tree with a file spanning many stripe chunks.
small_tree() {
    rm -rf "$1"
    mkdir -p "$1/data"
    python3 -c "import sys; sys.stdout.buffer.write(b''.join(b'%08d lvm fixture line\n' % i for i in range(40000)))" >"$1/data/big.txt"
    printf 'hello from %s\n' "$2" >"$1/data/hello.txt"
}

PV_DEVS=() PV_PARTS=() PV_STARTS=()
pv() { # pv IMG PART START SIZE [pvcreate args]
    local img=$1 part=$2 start=$3 size=$4
    shift 4
    attach "$img" "$start" "$size"
    pvcreate -q -y "$@" "$LAST_LOOP" >/dev/null 2>&1
    PV_DEVS+=("$LAST_LOOP") PV_PARTS+=("$part") PV_STARTS+=("$start")
}
reset_pvs() { PV_DEVS=() PV_PARTS=() PV_STARTS=(); detach_all; }

# --- lvm-sys-mbr: /boot + PV on MBR; a Debian root LV named by grub and fstab
begin_sys() { # begin_sys NAME VG TABLE
    local name=$1 vg=$2
    RF_ROOT_UUID=$(mkuuid "$name-root")
    RF_OWNERS=$WORK/$name.owners
    : >"$RF_OWNERS"
    RF_TABLE=${3:-msdos}
    rootfs_debian "$WORK/$name.tree" >/dev/null
    local tree=$WORK/$name.tree mapper
    mapper="/dev/mapper/$(printf '%s' "$vg" | sed 's/-/--/g')-root"
    # fstab and grub name the LV, as an LVM install does.
    sed -i "s|^UUID=$RF_ROOT_UUID |$mapper |" "$tree/etc/fstab"
    printf '/dev/%s/swap none swap sw 0 0\nUUID=%s /boot ext4 defaults 0 2\n' "$vg" "$(mkuuid "$name-boot")" >>"$tree/etc/fstab"
    find "$tree/boot" -name grub.cfg -exec sed -i \
        "s|root=UUID=$RF_ROOT_UUID|root=$mapper rd.lvm.lv=$vg/root resume=/dev/$vg/swap|g" {} +
    # A shell history on the root LV: a file finding the sanitizer must
    # leave alone (it does not write inside logical volumes).
    printf 'ls /srv\n' >"$tree/root/.bash_history"
    rf_fix_mtimes "$tree"
}

# MBR: p1 /boot 32 MiB, p2 PV 200 MiB.
name=lvm-sys-mbr
IMG=$OUT/$name.img
rm -f "$IMG"
truncate -s $((234 * MiB)) "$IMG"
printf 'label: dos\nstart=2048, size=%d, type=83, bootable\nstart=%d, size=%d, type=8e\n' \
    $((32 * MiB / 512)) $((34 * MiB / 512)) $((200 * MiB / 512)) | sfdisk -q --no-reread --no-tell-kernel "$IMG" >/dev/null
begin_sys "$name" vg0
mkfs_file "$WORK/boot.fs" $((32 * MiB)) boot "$WORK/$name.tree/boot"
tune2fs -U "$(mkuuid "$name-boot")" "$WORK/boot.fs" >/dev/null 2>&1 || true
dd if="$WORK/boot.fs" of="$IMG" bs=1M seek=1 conv=notrunc status=none
pv "$IMG" 2 $((34 * MiB)) $((200 * MiB))
vgcreate -q vg0 "${PV_DEVS[@]}" >/dev/null 2>&1
lv -L 136M -n root vg0
lv -L 16M -n swap vg0
record "$name" vg0
mkfs_file "$OUT/$name.root.fs" $((136 * MiB)) root "$WORK/$name.tree"
tune2fs -U "$RF_ROOT_UUID" "$OUT/$name.root.fs" >/dev/null
place "$name" root "$OUT/$name.root.fs"
truncate -s $((16 * MiB)) "$WORK/swap.fs"
mkswap -q -U "$(mkuuid "$name-swap")" "$WORK/swap.fs" >/dev/null
place "$name" swap "$WORK/swap.fs"
reset_pvs

# --- lvm-gpt: BIOS-boot + /boot + PV on GPT; an LV name with a dash --------
name=lvm-gpt
IMG=$OUT/$name.img
rm -f "$IMG"
truncate -s $((100 * MiB)) "$IMG"
sgdisk -o -n1:2048:+1M -t1:EF02 -n2:0:+16M -t2:8300 -n3:0:0 -t3:8E00 "$IMG" >/dev/null 2>&1
p3_start=$(($(sgdisk -i3 "$IMG" | awk '/First sector/ {print $3}') * 512))
p3_end=$((($(sgdisk -i3 "$IMG" | awk '/Last sector/ {print $3}') + 1) * 512))
mkfs_file "$WORK/boot.fs" $((16 * MiB)) boot
dd if="$WORK/boot.fs" of="$IMG" bs=1M seek=2 conv=notrunc status=none
pv "$IMG" 3 "$p3_start" $((p3_end - p3_start))
vgcreate -q my-vg "${PV_DEVS[@]}" >/dev/null 2>&1
lv -L 24M -n my-root my-vg
record "$name" my-vg
small_tree "$WORK/t" "$name"
mkfs_file "$OUT/$name.my-root.fs" $((24 * MiB)) myroot "$WORK/t"
place "$name" my-root "$OUT/$name.my-root.fs"
reset_pvs

# --- lvm-whole: a PV on the whole disk; a LUKS1 LV ---------------------------
name=lvm-whole
IMG=$OUT/$name.img
rm -f "$IMG"
truncate -s $((64 * MiB)) "$IMG"
pv "$IMG" 0 0 $((64 * MiB))
vgcreate -q wd "${PV_DEVS[@]}" >/dev/null 2>&1
lv -L 24M -n data wd
lv -L 20M -n secret wd
record "$name" wd
small_tree "$WORK/t" "$name"
mkfs_file "$OUT/$name.data.fs" $((24 * MiB)) data "$WORK/t"
place "$name" data "$OUT/$name.data.fs"
truncate -s $((20 * MiB)) "$WORK/luks1"
cryptsetup luksFormat -q --type luks1 --pbkdf-force-iterations 1000 --cipher aes-cbc-essiv:sha256 \
    --uuid "$(mkuuid "$name-luks")" "$WORK/luks1" <<<"fixture-passphrase"
place "$name" secret "$WORK/luks1"
reset_pvs

# --- lvm-striped: an LV striped over two PVs ----------------------------------
name=lvm-striped
IMG=$OUT/$name.img
rm -f "$IMG"
truncate -s $((100 * MiB)) "$IMG"
printf 'label: dos\nstart=2048, size=%d, type=8e\nstart=%d, size=%d, type=8e\n' \
    $((48 * MiB / 512)) $((49 * MiB / 512)) $((48 * MiB / 512)) | sfdisk -q --no-reread --no-tell-kernel "$IMG" >/dev/null
pv "$IMG" 1 $((1 * MiB)) $((48 * MiB))
pv "$IMG" 2 $((49 * MiB)) $((48 * MiB))
vgcreate -q st "${PV_DEVS[@]}" >/dev/null 2>&1
lv -L 4M -n pad st "${PV_DEVS[1]}"
lv -i 2 -I 64k -L 32M -n stripe st
record "$name" st
small_tree "$WORK/t" "$name"
mkfs_file "$OUT/$name.stripe.fs" $((32 * MiB)) stripe "$WORK/t"
place "$name" stripe "$OUT/$name.stripe.fs"
reset_pvs

# --- lvm-frag: a fragmented LV, metadata rewritten until the buffer wraps -----
name=lvm-frag
IMG=$OUT/$name.img
rm -f "$IMG"
truncate -s $((80 * MiB)) "$IMG"
pv "$IMG" 0 0 $((80 * MiB))
vgcreate -q fr "${PV_DEVS[@]}" >/dev/null 2>&1
lv -L 8M -n frag fr
lv -L 8M -n other fr
lvextend -q --driverloaded n -L +8M fr/frag >/dev/null 2>&1
lv -L 4M -n gone fr
lvremove -q -f --driverloaded n fr/gone >/dev/null 2>&1
lvextend -q --driverloaded n -L +4M fr/frag >/dev/null 2>&1
# Long tags make each metadata copy ~20 KiB; ~60 rewrites wrap the 1 MiB
# circular buffer at least once.
tag=$(printf 'x%.0s' $(seq 900))
for i in $(seq 1 20); do vgchange -q --addtag "t${i}_$tag" fr >/dev/null 2>&1; done
# Rewrite until the current copy runs past the end of the area (mda_header
# at byte 4096 of the PV: size at 32, raw_locns[0] offset/size at 40/48).
wrapped() {
    python3 - "$IMG" <<'EOF'
import struct, sys
with open(sys.argv[1], "rb") as f:
    f.seek(4096)
    h = f.read(512)
size, = struct.unpack_from("<Q", h, 32)
off, n = struct.unpack_from("<QQ", h, 40)
sys.exit(0 if off + n > size else 1)
EOF
}
for i in $(seq 1 200); do
    vgchange -q --deltag "t$((i % 20 + 1))_$tag" fr >/dev/null 2>&1
    vgchange -q --addtag "t$((i % 20 + 1))_$tag" fr >/dev/null 2>&1
    wrapped && break
done
wrapped || die "lvm-frag: the metadata never wrapped around its area"
vgs --noheadings -o seqno fr 2>/dev/null | tr -d ' ' >"$OUT/$name.seqno"
record "$name" fr
small_tree "$WORK/t" "$name"
mkfs_file "$OUT/$name.frag.fs" $((28 * MiB)) frag "$WORK/t"
place "$name" frag "$OUT/$name.frag.fs"
reset_pvs

# --- lvm-thin: a thin pool and a thin LV (written by vgcfgrestore) ------------
name=lvm-thin
IMG=$OUT/$name.img
rm -f "$IMG"
truncate -s $((64 * MiB)) "$IMG"
pv "$IMG" 0 0 $((64 * MiB))
vgcreate -q th "${PV_DEVS[@]}" >/dev/null 2>&1
lv -L 4M -n plain th
lv -L 16M -n tdata0 th
lv -L 4M -n tmeta0 th
vgcfgbackup -q -f "$WORK/th.vg" th >/dev/null 2>&1
python3 - "$WORK/th.vg" <<'EOF'
import re, sys
p = sys.argv[1]
s = open(p).read()
# Rename and hide the data and metadata LVs (lvcreate refuses the reserved
# names), and add the pool and a thin LV over them.
s = s.replace("\t\ttdata0 {", "\t\tpool_tdata {").replace("\t\ttmeta0 {", "\t\tpool_tmeta {")
s = re.sub(r'(pool_t(data|meta) \{\n(\s*)id = "[^"]*"\n\s*status = \[)"READ", "WRITE", "VISIBLE"\]',
           r'\1"READ", "WRITE"]', s)
pool = '''
		pool {
			id = "pool00-aaaa-bbbb-cccc-dddd-eeee-ffffff"
			status = ["READ", "WRITE", "VISIBLE"]
			flags = []
			segment_count = 1
			segment1 {
				start_extent = 0
				extent_count = 4
				type = "thin-pool"
				metadata = "pool_tmeta"
				pool = "pool_tdata"
				transaction_id = 1
				chunk_size = 128
				discards = "passdown"
				zero_new_blocks = 1
			}
		}
		thin {
			id = "thin00-aaaa-bbbb-cccc-dddd-eeee-ffffff"
			status = ["READ", "WRITE", "VISIBLE"]
			flags = []
			segment_count = 1
			segment1 {
				start_extent = 0
				extent_count = 8
				type = "thin"
				thin_pool = "pool"
				transaction_id = 0
				device_id = 1
			}
		}
'''
i = s.index("\tlogical_volumes {\n") + len("\tlogical_volumes {\n")
s = s[:i] + pool + s[i:]
open(p, "w").write(s)
EOF
vgcfgrestore -q --force -f "$WORK/th.vg" th >/dev/null 2>&1 || vgcfgrestore --force -f "$WORK/th.vg" th
record "$name" th
reset_pvs

# --- luks2-part: a LUKS2 partition -------------------------------------------
name=luks2-part
IMG=$OUT/$name.img
rm -f "$IMG"
truncate -s $((40 * MiB)) "$IMG"
printf 'label: dos\nstart=2048, size=%d, type=83\n' $((32 * MiB / 512)) | sfdisk -q --no-reread --no-tell-kernel "$IMG" >/dev/null
truncate -s $((32 * MiB)) "$WORK/luks2"
cryptsetup luksFormat -q --type luks2 --pbkdf pbkdf2 --pbkdf-force-iterations 1000 --pbkdf-memory 32768 \
    --uuid "$(mkuuid "$name")" "$WORK/luks2" <<<"fixture-passphrase"
dd if="$WORK/luks2" of="$IMG" bs=1M seek=1 conv=notrunc status=none

echo "$STAMP" >"$OUT/.lvm-stamp"
