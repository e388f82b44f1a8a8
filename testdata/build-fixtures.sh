#!/usr/bin/env bash
# Build every fixture disk image into OUTDIR (default: target/fixtures).
#
#   testdata/build-fixtures.sh [OUTDIR]
#
# Output (see testdata/FIXTURES.md for what each image holds and which rules
# it must fire):
#   OUTDIR/NAME.img          the disk images (sparse)
#   OUTDIR/trees/NAME/       the tree mke2fs -d read for the root filesystem
#   OUTDIR/trees/NAME.pN/    trees of other ext4 partitions (N = index)
#   OUTDIR/meta/NAME.env     key=value facts: table, partitions (offsets,
#                            UUIDs, labels), planted offsets and lines
#   OUTDIR/fixtures.list     one fixture name per line
#
# Idempotent: a stamp (hash of the scripts and tool versions) makes a second
# run a no-op. Safe when several test processes call it at once: the build
# holds an flock on OUTDIR/.lock, and the stamp is written last.
#
# Set FIXTURES_ONLY="name1 name2" to build a subset (no stamp is written).
#
# Never mounts anything, never uses loop devices or the network.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TESTDATA=$HERE
# shellcheck source=lib.sh
. "$HERE/lib.sh"

OUT=${1:-$HERE/../target/fixtures}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

need_tools \
    mke2fs:e2fsprogs debugfs:e2fsprogs e2fsck:e2fsprogs dumpe2fs:e2fsprogs \
    sfdisk:fdisk fdisk:fdisk sgdisk:gdisk mkfs.vfat:dosfstools \
    mkswap:util-linux flock:util-linux blkid:util-linux \
    mkfs.xfs:xfsprogs mkfs.btrfs:btrfs-progs cryptsetup:cryptsetup-bin \
    python3:python3 md5sum:coreutils sha256sum:coreutils truncate:coreutils od:coreutils \
    dd:coreutils find:findutils xargs:findutils awk:mawk

# --- lock and stamp ----------------------------------------------------------

exec 9>"$OUT/.lock"
flock 9

STAMP=$(
    {
        cat "$HERE/build-fixtures.sh" "$HERE/lib.sh" "$HERE/rootfs.sh" \
            "$HERE/fixtool.py" "$HERE/mke2fs.conf"
        mke2fs -V 2>&1
        sfdisk --version
        mkfs.vfat --help 2>&1 | sed -n 1p
    } | sha256sum | cut -c1-64
)
if [ -z "${FIXTURES_ONLY:-}" ] && [ -f "$OUT/.stamp" ] && [ "$(cat "$OUT/.stamp")" = "$STAMP" ]; then
    exit 0
fi

START_SECONDS=$SECONDS
rm -f "$OUT/.stamp"
if [ -z "${FIXTURES_ONLY:-}" ]; then
    # Trees hold mode-0000 files (RHEL's /etc/shadow): make them removable.
    [ -d "$OUT/trees" ] && chmod -R u+rwX "$OUT/trees"
    # Deleting big sparse files can be slow (discard on the host): move the
    # old build aside and delete it in the background.
    trash=$OUT/.trash-$$
    mkdir "$trash"
    find "$OUT" -mindepth 1 -maxdepth 1 ! -name .lock ! -name '.trash-*' -exec mv {} "$trash"/ \;
    (rm -rf "$OUT"/.trash-* &) >/dev/null 2>&1
fi
mkdir -p "$OUT/trees" "$OUT/meta" "$OUT/.work/cache"
WORK=$OUT/.work
RF_CACHE=$WORK/cache

# --- per-fixture bookkeeping ---------------------------------------------------

SYS_SIZE=$((128 * MiB)) # root fs of system fixtures: >64 MiB free (fs.free-space)
BIOS_BOOT=21686148-6449-6E6F-744E-656564454649
ESP=C12A7328-F81F-11D2-BA4B-00A0C93EC93B
LINUX_FS=0FC63DAF-8483-4772-8E79-3D69D8477DE4
LINUX_ROOT_X86_64=4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709

# begin NAME: start a fixture; resets the recipe hooks.
begin() {
    FX=$1
    IMG=$OUT/$FX.img
    META=$OUT/meta/$FX.env
    OWN=$WORK/$FX.owners
    TREE=$OUT/trees/$FX
    PARTS=""
    rm -rf "$IMG" "$TREE" "$OUT/trees/$FX".p*
    : >"$META"
    : >"$OWN"
    plant_tree() { :; }
    plant_fs() { :; }
    plant_last() { :; }
    MKFS_ARGS=()
    MK_TYPE=ext4 MK_BS=4096 MK_EXT=""
    DISTRO=debian
    RF_USRMERGE=1
    FSCK=clean
    meta name "$FX"
}

meta() {
    printf '%s=%s\n' "$1" "$2" >>"$META"
}

# meta_set KEY VALUE: replace a value written earlier.
meta_set() {
    grep -v "^$1=" "$META" >"$META.tmp" || true
    mv "$META.tmp" "$META"
    meta "$1" "$2"
}

# part_meta INDEX START_BYTES SIZE_BYTES TYPE FS UUID LABEL PARTUUID FSCK
# INDEX 0 is the whole disk (no partition table).
part_meta() {
    meta "p$1.start_bytes" "$2"
    meta "p$1.size_bytes" "$3"
    meta "p$1.type" "$4"
    meta "p$1.fs" "$5"
    meta "p$1.uuid" "$6"
    meta "p$1.label" "$7"
    meta "p$1.partuuid" "$8"
    meta "p$1.fsck" "$9"
    PARTS="${PARTS:+$PARTS }$1"
}

finish() {
    # shellcheck disable=SC2086 # PARTS is a list of numbers
    meta parts "$(printf '%s\n' $PARTS | sort -n | tr '\n' ' ' | sed 's/ $//')"
    meta image_size_bytes "$(stat -c %s "$IMG")"
}

# sfdisk_table IMG SIZE_BYTES: stdin is an sfdisk script.
sfdisk_table() {
    rm -f "$1"
    truncate -s "$2" "$1"
    sfdisk -q --no-reread --no-tell-kernel "$1" >/dev/null
}

# --- layouts: each creates $IMG and its table and sets ROOT_* -------------------

layout_mbr() {
    local sig
    sig=$(mkdiskid "$FX/disk")
    ROOT_PART=1 ROOT_OFF=$MiB ROOT_SIZE=$SYS_SIZE
    sfdisk_table "$IMG" $((MiB + SYS_SIZE)) <<EOF
label: dos
label-id: $sig
unit: sectors

start=2048, size=$((SYS_SIZE / 512)), type=83, bootable
EOF
    meta table mbr
    meta sector_size 512
    meta disk_id "$sig"
    ROOT_TYPE=83 ROOT_PARTUUID="${sig#0x}-01"
}

layout_gpt() {
    local guid
    guid=$(mkuuid "$FX/disk")
    ROOT_PART=1 ROOT_OFF=$MiB ROOT_SIZE=$SYS_SIZE ROOT_TYPE=$LINUX_FS
    ROOT_PARTUUID=$(mkuuid "$FX/p1")
    sfdisk_table "$IMG" $((2 * MiB + SYS_SIZE)) <<EOF
label: gpt
label-id: $guid
unit: sectors

start=2048, size=$((SYS_SIZE / 512)), type=$ROOT_TYPE, uuid=$ROOT_PARTUUID, name="root"
EOF
    meta table gpt
    meta sector_size 512
    meta disk_id "$guid"
}

# BIOS boot (1 MiB) + ESP (64 MiB FAT32) + root: the layout of a cloud image
# that boots both ways. The root partition uses the x86-64 root type GUID of
# the Discoverable Partitions Specification.
layout_gpt_esp() {
    local guid esp_off=$((2 * MiB)) esp_size=$((64 * MiB))
    guid=$(mkuuid "$FX/disk")
    ROOT_PART=3 ROOT_OFF=$((66 * MiB)) ROOT_SIZE=$SYS_SIZE ROOT_TYPE=$LINUX_ROOT_X86_64
    ROOT_PARTUUID=$(mkuuid "$FX/p3")
    sfdisk_table "$IMG" $((67 * MiB + SYS_SIZE)) <<EOF
label: gpt
label-id: $guid
unit: sectors

start=2048, size=2048, type=$BIOS_BOOT, uuid=$(mkuuid "$FX/p1"), name="bios"
start=4096, size=$((esp_size / 512)), type=$ESP, uuid=$(mkuuid "$FX/p2"), name="EFI System Partition"
start=$((ROOT_OFF / 512)), size=$((SYS_SIZE / 512)), type=$ROOT_TYPE, uuid=$ROOT_PARTUUID, name="root"
EOF
    meta table gpt
    meta sector_size 512
    meta disk_id "$guid"
    part_meta 1 $MiB $MiB "$BIOS_BOOT" "" "" "" "$(mkuuid "$FX/p1")" none
    esp_vfat "$esp_off" "$esp_size"
    part_meta 2 $esp_off $esp_size "$ESP" vfat "$EFI_SERIAL" EFI "$(mkuuid "$FX/p2")" none
}

# esp_vfat OFF SIZE: FAT32 ESP written in place. mkfs.vfat warns that the
# file is bigger than the filesystem: that is the point of --offset.
esp_vfat() {
    local log
    log=$(mkfs.vfat -F 32 --invariant -i "${EFI_SERIAL/-/}" -n EFI --offset=$(($1 / 512)) \
        "$IMG" $(($2 / 1024)) 2>&1) || {
        printf '%s\n' "$log" >&2
        die "mkfs.vfat failed"
    }
}

# root + a 16 MiB ext4 data partition after it (mounted by UUID from fstab
# line 12: on this disk, so fstab.data-disk must stay silent).
layout_gpt_data() {
    local guid data_off=$((MiB + SYS_SIZE)) data_size=$((16 * MiB))
    guid=$(mkuuid "$FX/disk")
    ROOT_PART=1 ROOT_OFF=$MiB ROOT_SIZE=$SYS_SIZE ROOT_TYPE=$LINUX_FS
    ROOT_PARTUUID=$(mkuuid "$FX/p1")
    sfdisk_table "$IMG" $((2 * MiB + SYS_SIZE + data_size)) <<EOF
label: gpt
label-id: $guid
unit: sectors

start=2048, size=$((SYS_SIZE / 512)), type=$LINUX_FS, uuid=$ROOT_PARTUUID, name="root"
start=$((data_off / 512)), size=$((data_size / 512)), type=$LINUX_FS, uuid=$(mkuuid "$FX/p2"), name="data"
EOF
    meta table gpt
    meta sector_size 512
    meta disk_id "$guid"
    data_partition 2 "$data_off" "$data_size" "$LINUX_FS" "$(mkuuid "$FX/p2")"
}

# data_partition INDEX OFF SIZE TYPE PARTUUID: small ext4 with a README.
data_partition() {
    local tree=$OUT/trees/$FX.p$1 uuid
    uuid=$(mkuuid "$FX/fs$1")
    mkdir -p "$tree/projects"
    printf 'Data volume of %s (partition %s).\n' "$FX" "$1" >"$tree/README.txt"
    printf 'id,name\n1,alpha\n2,beta\n' >"$tree/projects/list.csv"
    rf_fix_mtimes "$tree"
    mkext4 "$IMG" "$2" "$3" "$uuid" data "$tree"
    fs_fixup "$IMG?offset=$2" "$tree"
    part_meta "$1" "$2" "$3" "$4" ext4 "$uuid" data "$5" clean
}

layout_whole() {
    ROOT_PART=0 ROOT_OFF=0 ROOT_SIZE=$SYS_SIZE ROOT_TYPE="" ROOT_PARTUUID=""
    rm -f "$IMG"
    truncate -s "$SYS_SIZE" "$IMG"
    meta table none
    meta sector_size 512
}

# Primary root, then an extended partition with two logical ones: an ext4
# data volume (p5) and swap (p6), both in fstab by UUID.
layout_mbr_logical() {
    local sig d5=$((130 * MiB)) s5=$((16 * MiB)) d6=$((147 * MiB)) s6=$((8 * MiB))
    sig=$(mkdiskid "$FX/disk")
    ROOT_PART=1 ROOT_OFF=$MiB ROOT_SIZE=$SYS_SIZE ROOT_TYPE=83 ROOT_PARTUUID="${sig#0x}-01"
    sfdisk_table "$IMG" $((156 * MiB)) <<EOF
label: dos
label-id: $sig
unit: sectors

start=2048, size=$((SYS_SIZE / 512)), type=83, bootable
start=$((129 * MiB / 512)), size=$((26 * MiB / 512)), type=5
start=$((d5 / 512)), size=$((s5 / 512)), type=83
start=$((d6 / 512)), size=$((s6 / 512)), type=82
EOF
    meta table mbr
    meta sector_size 512
    meta disk_id "$sig"
    part_meta 2 $((129 * MiB)) $((26 * MiB)) 5 "" "" "" "${sig#0x}-02" none
    data_partition 5 "$d5" "$s5" 83 "${sig#0x}-05"
    local swap=$WORK/$FX.swap swap_uuid
    swap_uuid=$(mkuuid "$FX/swap")
    rm -f "$swap"
    truncate -s "$s6" "$swap"
    mkswap -q -U "$swap_uuid" -L swap "$swap" >/dev/null
    place "$swap" "$IMG" "$d6"
    rm -f "$swap"
    part_meta 6 "$d6" "$s6" 82 swap "$swap_uuid" swap "${sig#0x}-06" none
}

# GPT with 4096-byte logical sectors. sfdisk 2.38 has no --sector-size and
# sgdisk assumes 512 on files; fdisk -b 4096 does it, GUIDs set in expert mode.
layout_gpt_4k() {
    local guid
    guid=$(mkuuid "$FX/disk")
    ROOT_PART=1 ROOT_OFF=$MiB ROOT_SIZE=$SYS_SIZE ROOT_TYPE=$LINUX_FS
    ROOT_PARTUUID=$(mkuuid "$FX/p1")
    rm -f "$IMG"
    truncate -s $((2 * MiB + SYS_SIZE)) "$IMG"
    # First and last sector given explicitly (a +size would be rounded
    # down to the 1 MiB grain).
    printf 'g\nn\n1\n256\n%s\nx\ni\n%s\nu\n%s\nn\nroot\nr\nw\n' \
        $((256 + SYS_SIZE / 4096 - 1)) "$guid" "$ROOT_PARTUUID" |
        fdisk -b 4096 "$IMG" >/dev/null 2>&1 || die "fdisk -b 4096 failed"
    meta table gpt
    meta sector_size 4096
    meta disk_id "$guid"
    # sfdisk would read this image with 512-byte sectors: tests use fdisk -b.
    meta sfdisk skip
}

# Root partition followed by an ESP: disk.root-last (root cannot grow).
layout_gpt_root_first() {
    local guid esp_off=$((MiB + SYS_SIZE)) esp_size=$((64 * MiB))
    guid=$(mkuuid "$FX/disk")
    ROOT_PART=1 ROOT_OFF=$MiB ROOT_SIZE=$SYS_SIZE ROOT_TYPE=$LINUX_FS
    ROOT_PARTUUID=$(mkuuid "$FX/p1")
    sfdisk_table "$IMG" $((2 * MiB + SYS_SIZE + esp_size)) <<EOF
label: gpt
label-id: $guid
unit: sectors

start=2048, size=$((SYS_SIZE / 512)), type=$LINUX_FS, uuid=$ROOT_PARTUUID, name="root"
start=$((esp_off / 512)), size=$((esp_size / 512)), type=$ESP, uuid=$(mkuuid "$FX/p2"), name="EFI System Partition"
EOF
    meta table gpt
    meta sector_size 512
    meta disk_id "$guid"
    esp_vfat "$esp_off" "$esp_size"
    part_meta 2 "$esp_off" "$esp_size" "$ESP" vfat "$EFI_SERIAL" EFI "$(mkuuid "$FX/p2")" none
}

# --- the system-disk recipe -------------------------------------------------------

# sys_fixture NAME LAYOUT: root tree (rootfs_$DISTRO) + plant_tree, the
# layout, the root filesystem, plant_fs, time/owner fixup, plant_last.
sys_fixture() {
    local layout=$2
    ROOT_UUID=$(mkuuid "$FX/root")
    EFI_SERIAL=""
    case $layout in gpt_esp | gpt_root_first) EFI_SERIAL=$(mkserial "$FX/esp") ;; esac
    RF_ROOT_UUID=$ROOT_UUID RF_EFI_UUID=$EFI_SERIAL RF_OWNERS=$OWN RF_TABLE=msdos
    case $layout in gpt*) RF_TABLE=gpt ;; esac
    rootfs_cached "$DISTRO" "$TREE"
    plant_tree
    rf_fix_mtimes "$TREE"
    "layout_$layout"
    mkext4 "$IMG" "$ROOT_OFF" "$ROOT_SIZE" "$ROOT_UUID" rootfs "$TREE" "${MKFS_ARGS[@]}"
    DEV="$IMG?offset=$ROOT_OFF"
    plant_fs
    fs_fixup "$DEV" "$TREE" "$OWN"
    plant_last
    meta root.partition "$ROOT_PART"
    meta root.uuid "$ROOT_UUID"
    meta distro "$DISTRO"
    part_meta "$ROOT_PART" "$ROOT_OFF" "$ROOT_SIZE" "$ROOT_TYPE" "$MK_TYPE" "$ROOT_UUID" rootfs "$ROOT_PARTUUID" "$FSCK"
    finish
}

# Convenience for the many "clean Debian on MBR plus one planted problem".
sys_mbr() {
    sys_fixture "$FX" mbr
}

fstab_add() {
    printf '%s\n' "$1" >>"$TREE/etc/fstab"
    meta fstab.line "$(wc -l <"$TREE/etc/fstab")"
}

# line_of FILE REGEX: first line number matching (for meta).
line_of() {
    grep -n -m1 -e "$2" "$1" | cut -d: -f1
}

# The kernel of the first grub menuentry (the default one) is replaced.
grub_default_sed() {
    sed -i "/^menuentry 'Debian GNU\/Linux' /,/^}/$1" "$TREE/boot/grub/grub.cfg"
}

sec() {
    fixtool secret "$@"
}

# =============================================================================
# Fixtures: issue 2 (layouts)
# =============================================================================

fx_sys_clean_mbr() {
    begin sys-clean-mbr
    sys_mbr
}

fx_sys_clean_gpt_esp() {
    begin sys-clean-gpt-esp
    sys_fixture "$FX" gpt_esp
}

fx_sys_gpt_data_part() {
    begin sys-gpt-data-part
    plant_tree() {
        fstab_add "UUID=$(mkuuid "$FX/fs2") /data           ext4    defaults,nofail 0       2"
        d data
    }
    sys_fixture "$FX" gpt_data
}

fx_sys_whole_disk() {
    begin sys-whole-disk
    sys_fixture "$FX" whole
}

fx_sys_mbr_logical() {
    begin sys-mbr-logical
    plant_tree() {
        fstab_add "UUID=$(mkuuid "$FX/fs5") /data           ext4    defaults        0       2"
        fstab_add "UUID=$(mkuuid "$FX/swap") none            swap    sw              0       0"
        d data
    }
    sys_fixture "$FX" mbr_logical
}

fx_sys_gpt_4k() {
    begin sys-gpt-4k
    sys_fixture "$FX" gpt_4k
}

# The last MiB (backup GPT array and header) cut off, as when a snapshot
# export is interrupted. The root partition ends before the cut.
fx_sys_gpt_truncated() {
    begin sys-gpt-truncated
    plant_last() {
        # The root partition ends at 1 MiB + SYS_SIZE: cut right there, so
        # the backup array and header (last 33 sectors) are gone but every
        # partition is still inside the image.
        truncate -s $((MiB + SYS_SIZE)) "$IMG"
        meta truncated_from_bytes $((2 * MiB + SYS_SIZE))
    }
    sys_fixture "$FX" gpt
    # util-linux (sfdisk, blkid, partx) drops a GPT whose header claims more
    # sectors than the image has and shows the protective MBR; sgdisk and
    # the kernel use the primary GPT.
    meta sfdisk pmbr
    meta sgdisk ok
}

# GPT + a hybrid MBR (sgdisk -h) that also lists the root partition.
fx_sys_gpt_hybrid() {
    begin sys-gpt-hybrid
    plant_last() {
        sgdisk -h 3 "$IMG" >/dev/null
        meta hybrid_mbr_partitions 3
    }
    sys_fixture "$FX" gpt_esp
}

fx_sys_root_not_last() {
    begin sys-root-not-last
    sys_fixture "$FX" gpt_root_first
}

# =============================================================================
# Fixtures: issue 3 (one rule each, on top of the clean Debian/MBR system)
# =============================================================================

fx_sys_fstab_data_uuid() {
    begin sys-fstab-data-uuid
    plant_tree() { fstab_add "UUID=$(mkuuid "$FX/foreign") /data           ext4    defaults        0       2"; }
    sys_mbr
    meta foreign.uuid "$(mkuuid "$FX/foreign")"
}

fx_sys_fstab_data_vdb() {
    begin sys-fstab-data-vdb
    plant_tree() { fstab_add "/dev/vdb1       /data           ext4    defaults        0       2"; }
    sys_mbr
}

fx_sys_fstab_data_nofail() {
    begin sys-fstab-data-nofail
    plant_tree() { fstab_add "/dev/vdb1       /data           ext4    defaults,nofail 0       2"; }
    sys_mbr
}

fx_sys_fstab_nfs() {
    begin sys-fstab-nfs
    plant_tree() { fstab_add "nas.internal:/export/home /mnt/home nfs defaults,_netdev 0 0"; }
    sys_mbr
}

fx_sys_fstab_root_mismatch() {
    begin sys-fstab-root-mismatch
    plant_tree() {
        sed -i "s/^UUID=$RF_ROOT_UUID /UUID=$(mkuuid "$FX/foreign") /" "$TREE/etc/fstab"
        meta fstab.line 11
    }
    sys_mbr
    meta foreign.uuid "$(mkuuid "$FX/foreign")"
}

fx_sys_fstab_device_name() {
    begin sys-fstab-device-name
    plant_tree() {
        sed -i "s|^UUID=$RF_ROOT_UUID |/dev/vda1 |" "$TREE/etc/fstab"
        meta fstab.line 11
    }
    sys_mbr
}

fx_sys_fstab_syntax() {
    begin sys-fstab-syntax
    plant_tree() { fstab_add "tmpfs /run/shm"; }
    sys_mbr
}

fx_sys_fstab_missing() {
    begin sys-fstab-missing
    plant_tree() { rm "$TREE/etc/fstab"; }
    sys_mbr
}

fx_sys_root_renamed() {
    begin sys-root-renamed
    plant_tree() {
        sed -i 's/^root:/toor:/' "$TREE/etc/passwd" "$TREE/etc/shadow"
        meta passwd.line 1
    }
    sys_mbr
}

fx_sys_extra_uid0() {
    begin sys-extra-uid0
    plant_tree() {
        printf 'admin:x:0:0:admin:/root:/bin/bash\n' >>"$TREE/etc/passwd"
        printf 'admin:*:%s:0:99999:7:::\n' "$RF_DAYS" >>"$TREE/etc/shadow"
        meta passwd.line "$(wc -l <"$TREE/etc/passwd")"
    }
    sys_mbr
}

fx_sys_shadow_immutable() {
    begin sys-shadow-immutable
    plant_fs() { set_flags "$DEV" /etc/shadow 0x10; }
    sys_mbr
    meta flagged.path /etc/shadow
    meta flagged.flags 0x10
}

fx_sys_passwd_append() {
    begin sys-passwd-append
    plant_fs() { set_flags "$DEV" /etc/passwd 0x20; }
    sys_mbr
    meta flagged.path /etc/passwd
    meta flagged.flags 0x20
}

fx_sys_shadow_missing() {
    begin sys-shadow-missing
    plant_tree() { rm "$TREE/etc/shadow"; }
    sys_mbr
}

selinux_config() {
    w etc/selinux/config <<EOF

# This file controls the state of SELinux on the system.
# SELINUX= can take one of these three values:
#     enforcing - SELinux security policy is enforced.
#     permissive - SELinux prints warnings instead of enforcing.
#     disabled - No SELinux policy is loaded.
SELINUX=$1
# SELINUXTYPE= can take one of these two values:
#     default - equivalent to the old strict and targeted policies
#     mls     - Multi-Level Security (for military and educational use)
#     src     - Custom policy built from source
SELINUXTYPE=default

# SETLOCALDEFS= Check local definition changes
SETLOCALDEFS=0
EOF
    meta selinux.line 7
}

fx_sys_selinux_enforcing() {
    begin sys-selinux-enforcing
    plant_tree() { selinux_config enforcing; }
    sys_mbr
}

fx_sys_selinux_permissive() {
    begin sys-selinux-permissive
    plant_tree() { selinux_config permissive; }
    sys_mbr
}

fx_sys_selinux_disabled() {
    begin sys-selinux-disabled
    plant_tree() { selinux_config disabled; }
    sys_mbr
}

fx_sys_selinux_cmdline() {
    begin sys-selinux-cmdline
    plant_tree() {
        grub_default_sed 's|^\(\tlinux\t.*\) ro  console|\1 ro security=selinux selinux=1 enforcing=1 console|'
        meta grub.line "$(line_of "$TREE/boot/grub/grub.cfg" 'enforcing=1')"
    }
    sys_mbr
}

fx_sys_grub_kernel_missing() {
    begin sys-grub-kernel-missing
    plant_tree() {
        # The default entry names 6.1.0-18 (removed by hand, modules left):
        # the submenu entries still name the installed 6.1.0-13.
        grub_default_sed 's/6\.1\.0-13-amd64/6.1.0-18-amd64/g'
        printf 'kernel/drivers/block/virtio_blk.ko:\n' | w usr/lib/modules/6.1.0-18-amd64/modules.dep
        meta grub.line "$(line_of "$TREE/boot/grub/grub.cfg" 'vmlinuz-6.1.0-18')"
    }
    sys_mbr
}

fx_sys_grub_initrd_missing() {
    begin sys-grub-initrd-missing
    plant_tree() {
        rm "$TREE/boot/initrd.img-$RF_KVER_DEBIAN" "$TREE/initrd.img"
        meta grub.line "$(line_of "$TREE/boot/grub/grub.cfg" "initrd.*initrd.img-$RF_KVER_DEBIAN")"
    }
    sys_mbr
}

fx_sys_boot_root_mismatch() {
    begin sys-boot-root-mismatch
    plant_tree() {
        grub_default_sed "s|root=UUID=$RF_ROOT_UUID|root=UUID=$(mkuuid "$FX/foreign")|"
        meta grub.line "$(line_of "$TREE/boot/grub/grub.cfg" "root=UUID=$(mkuuid "$FX/foreign")")"
    }
    sys_mbr
    meta foreign.uuid "$(mkuuid "$FX/foreign")"
}

fx_sys_boot_search_mismatch() {
    begin sys-boot-search-mismatch
    plant_tree() {
        grub_default_sed "s|--set=root $RF_ROOT_UUID|--set=root $(mkuuid "$FX/foreign")|"
        meta grub.line "$(line_of "$TREE/boot/grub/grub.cfg" "set=root $(mkuuid "$FX/foreign")")"
    }
    sys_mbr
    meta foreign.uuid "$(mkuuid "$FX/foreign")"
}

fx_sys_boot_device_name() {
    begin sys-boot-device-name
    plant_tree() {
        grub_default_sed "s|root=UUID=$RF_ROOT_UUID|root=/dev/sda1|"
        meta grub.line "$(line_of "$TREE/boot/grub/grub.cfg" 'root=/dev/sda1')"
    }
    sys_mbr
}

fx_sys_boot_config_missing() {
    begin sys-boot-config-missing
    plant_tree() { rm -r "$TREE/boot/grub"; }
    sys_mbr
}

fx_sys_bls_rhel8() {
    begin sys-bls-rhel8
    DISTRO=rhel8
    sys_mbr
    meta kernel.default "$RF_KVER_EL8"
}

legacy_fs_args() {
    # CentOS 6's mke2fs: no metadata_csum (uninit_bg instead), 256-byte inodes.
    # shellcheck disable=SC2054 # one -O argument with a feature list
    MKFS_ARGS=(-O ^metadata_csum,uninit_bg)
}

fx_sys_legacy_grub_el6() {
    begin sys-legacy-grub-el6
    DISTRO=centos6
    legacy_fs_args
    sys_mbr
    meta kernel.default "$RF_KVER_EL6"
}

fx_sys_legacy_grub_split() {
    begin sys-legacy-grub-split
    DISTRO=centos6
    legacy_fs_args
    plant_tree() {
        # menu.lst a stale copy instead of the link: default differs.
        rm "$TREE/boot/grub/menu.lst"
        sed 's/^default=0/default=1/' "$TREE/boot/grub/grub.conf" | w boot/grub/menu.lst 0600
    }
    sys_mbr
}

fx_sys_os_release_missing() {
    begin sys-os-release-missing
    plant_tree() { rm "$TREE/etc/os-release" "$TREE/usr/lib/os-release" "$TREE/etc/debian_version"; }
    sys_mbr
}

fx_sys_os_release_fallback() {
    begin sys-os-release-fallback
    plant_tree() { rm "$TREE/etc/os-release" "$TREE/usr/lib/os-release"; }
    sys_mbr
}

fx_sys_issue_missing() {
    begin sys-issue-missing
    plant_tree() { rm "$TREE/etc/issue"; }
    sys_mbr
}

fx_sys_kernel_no_modules() {
    begin sys-kernel-no-modules
    plant_tree() { rm -r "$TREE/usr/lib/modules/$RF_KVER_DEBIAN"; }
    sys_mbr
}

fx_sys_nonmerged() {
    begin sys-nonmerged
    RF_USRMERGE=0
    sys_mbr
}

fx_sys_usrmerge_absolute() {
    begin sys-usrmerge-absolute
    plant_tree() { l /usr/bin bin; }
    sys_mbr
}

fx_sys_bin_missing() {
    begin sys-bin-missing
    plant_tree() { rm "$TREE/bin"; }
    sys_mbr
}

fx_sys_no_init() {
    begin sys-no-init
    plant_tree() { rm "$TREE/usr/lib/systemd/systemd" "$TREE/usr/sbin/init"; }
    sys_mbr
}

# fill_fs DEVSPEC FREE_BLOCKS_LEFT: preallocate /var/cache/fill.bin
# (uninitialised extents beyond i_size, like fallocate --keep-size: the
# image stays sparse and readers see an empty file) until about
# FREE_BLOCKS_LEFT blocks remain free.
fill_fs() {
    local dev=$1 left=$2 free need n lblk=0 round
    printf 'cd /var/cache\nwrite /dev/null fill.bin\n' | dbg "$dev"
    # Extent tree blocks come out of the same free space, so converge in a
    # few rounds instead of computing them.
    for round in 1 2 3 4 5; do
        free=$(sb_field "$dev" 'Free blocks')
        need=$((free - left))
        [ "$need" -gt 0 ] || break
        n=$need
        [ "$n" -gt 16 ] && n=$((n - 8))
        printf 'fallocate /var/cache/fill.bin %s %s\n' "$lblk" $((lblk + n - 1)) | dbg "$dev"
        lblk=$((lblk + n))
    done
    : "$round"
}

fx_sys_nearly_full() {
    begin sys-nearly-full
    plant_fs() {
        # 0.5 % of the blocks left free (reserved blocks included).
        fill_fs "$DEV" $((SYS_SIZE / 4096 / 200))
        meta free_blocks "$(sb_field "$DEV" 'Free blocks')"
        meta block_count "$(sb_field "$DEV" 'Block count')"
    }
    sys_mbr
    meta tree.differs /var/cache/fill.bin
}

# Warning band: free >= max(1 %, 64 MiB) but < 10 %. A 1 GiB filesystem
# without reserved blocks (-m 0, so "free" means the same with and without
# reserved blocks) with 80 MiB free.
fx_sys_free_space_low() {
    begin sys-free-space-low
    MKFS_ARGS=(-m 0)
    plant_fs() {
        fill_fs "$DEV" $((80 * MiB / 4096))
        meta free_blocks "$(sb_field "$DEV" 'Free blocks')"
        meta block_count "$(sb_field "$DEV" 'Block count')"
    }
    SYS_SIZE=$((1024 * MiB)) sys_mbr
    meta tree.differs /var/cache/fill.bin
}

# Free inodes < 1 %: few inodes (-N), then empty files until 2 are left.
# Built twice: the first pass measures how many inodes the tree leaves free.
fx_sys_inodes_full() {
    begin sys-inodes-full
    MKFS_ARGS=(-N 512)
    local probe=$WORK/inode-probe.img
    RF_ROOT_UUID=$(mkuuid "$FX/root") RF_OWNERS=/dev/null RF_EFI_UUID="" rootfs_cached debian "$WORK/inode-probe"
    rm -f "$probe"
    truncate -s "$SYS_SIZE" "$probe"
    mkext4 "$probe" 0 "$SYS_SIZE" "$(mkuuid "$FX/root")" rootfs "$WORK/inode-probe" -N 512
    local free
    free=$(sb_field "$probe" 'Free inodes')
    rm -rf "$probe" "$WORK/inode-probe"
    INODES_TO_ADD=$((free - 2))
    plant_tree() {
        mkdir -p "$TREE/var/spool/queue"
        local i
        for ((i = 0; i < INODES_TO_ADD; i++)); do
            : >"$TREE/var/spool/queue/msg$(printf '%05d' "$i")"
        done
    }
    sys_mbr
}

fx_sys_journal_needs_recovery() {
    begin sys-journal-needs-recovery
    plant_tree() {
        # The tree holds what a mounted system shows: the replayed content.
        printf 'replay\n' >"$TREE/etc/hostname"
    }
    plant_last() {
        # The journal gets a committed transaction whose copy of the
        # /etc/hostname block says "replay"; the block in place is then
        # rewritten to "debian" (same length; data blocks carry no
        # checksum). Last, the superblock state of a mounted filesystem.
        local blk blockfile=$WORK/$FX.block
        blk=$(block_of "$DEV" /etc/hostname 0)
        printf 'replay\n' >"$blockfile"
        truncate -s 4096 "$blockfile"
        printf 'jo\njw -b %s %s\njc\nssv state 0\n' "$blk" "$blockfile" | dbg "$DEV"
        printf 'debian\n' | dd of="$IMG" bs=1 seek=$((ROOT_OFF + blk * 4096)) conv=notrunc status=none
        rm -f "$blockfile"
        # Journal blocks: 0 superblock, 1 descriptor, 2 data, 3 commit. The
        # commit block's h_commit_sec/nsec (0x30, 0x38; big-endian, no
        # journal checksum feature) come from the host clock: pin them.
        local commit
        commit=$(block_of "$DEV" '<8>' 3)
        put_be "$IMG" $((ROOT_OFF + commit * 4096 + 0x30)) "$RF_EPOCH" 8
        put_be "$IMG" $((ROOT_OFF + commit * 4096 + 0x38)) 0 4
        meta journal.block "$blk"
        meta journal.path /etc/hostname
        meta journal.raw debian
        meta journal.replayed replay
    }
    FSCK=skip
    sys_mbr
}

fx_sys_fs_errors() {
    begin sys-fs-errors
    plant_last() {
        # What the kernel records after ext4_error(): ERROR_FS in s_state and
        # the error counters/first-error fields.
        printf 'ssv state 3\nssv error_count 2\nssv first_error_time %s\nssv first_error_ino 2\nssv first_error_block 0\nssv first_error_func ext4_lookup\nssv first_error_line 1785\nssv last_error_time %s\n' \
            "$RF_EPOCH" "$RF_EPOCH" | dbg "$DEV"
    }
    FSCK=skip
    sys_mbr
}

fx_sys_ext3() {
    begin sys-ext3
    MK_TYPE=ext3
    plant_tree() { sed -i 's/ ext4    errors/ ext3    errors/' "$TREE/etc/fstab"; }
    sys_mbr
}

fx_sys_ext3_shadow_immutable() {
    begin sys-ext3-shadow-immutable
    MK_TYPE=ext3
    plant_tree() { sed -i 's/ ext4    errors/ ext3    errors/' "$TREE/etc/fstab"; }
    plant_fs() { set_flags "$DEV" /etc/shadow 0x10; }
    sys_mbr
    meta flagged.path /etc/shadow
    meta flagged.flags 0x10
}

fx_sys_64bit() {
    begin sys-64bit
    MKFS_ARGS=(-O 64bit)
    sys_mbr
}

fx_sys_project_quota() {
    begin sys-project-quota
    # shellcheck disable=SC2054 # one -O argument with a feature list
    MKFS_ARGS=(-O quota,project)
    MK_EXT=quotatype=usrquota:grpquota:prjquota
    plant_last() {
        # mke2fs -d does not account the files it copies in the quota
        # files; e2fsck does (exit 1: "fixed").
        e2fsck -fy "$DEV" >/dev/null 2>&1 || [ $? -le 1 ] || die "e2fsck quota update failed"
    }
    sys_mbr
}

# =============================================================================
# Fixtures: issues 6 and 7 (dirty systems)
# =============================================================================

fx_dirty_ssh_host_keys() {
    begin dirty-ssh-host-keys
    plant_tree() {
        local t
        for t in rsa ecdsa ed25519; do
            sec "ssh-$t" "$FX/$t" --comment "root@debian" --pub "$TREE/etc/ssh/ssh_host_${t}_key.pub" |
                w "etc/ssh/ssh_host_${t}_key" 0600
        done
    }
    sys_mbr
}

fx_dirty_machine_id() {
    begin dirty-machine-id
    plant_tree() { printf '%s\n' "$(sec hex "$FX" --length 16)" | w etc/machine-id 0444; }
    sys_mbr
}

fx_dirty_shell_history() {
    begin dirty-shell-history
    plant_tree() {
        w root/.bash_history 0600 <<EOF
apt-get update
apt-get install -y mariadb-client
mysql -u root -p$(sec password "$FX/mysql") -h db.internal app
systemctl status ssh
exit
EOF
        # Empty history files are not findings.
        : | w home/user/.lesshst 0600
        : | w home/user/.bash_history 0600
        own 1000 1000 home/user/.lesshst home/user/.bash_history
        meta history.path /root/.bash_history
        meta history.secret_line 3
    }
    sys_mbr
}

fx_dirty_credentials_files() {
    begin dirty-credentials-files
    plant_tree() {
        w home/user/.aws/credentials 0600 <<EOF
[default]
aws_access_key_id = $(sec aws-key-id "$FX/aws")
aws_secret_access_key = $(sec aws-secret "$FX/aws")
region = cn-north-1
EOF
        w home/user/.aliyun/config.json 0600 <<EOF
{
	"current": "default",
	"profiles": [
		{
			"name": "default",
			"mode": "AK",
			"access_key_id": "$(sec ali-key-id "$FX/ali")",
			"access_key_secret": "$(sec ali-secret "$FX/ali")",
			"region_id": "cn-hangzhou",
			"output_format": "json",
			"language": "en"
		}
	],
	"meta_path": ""
}
EOF
        w root/.docker/config.json 0600 <<EOF
{
	"auths": {
		"registry.cn-hangzhou.aliyuncs.com": {
			"auth": "$(sec docker-auth "$FX/docker")"
		}
	}
}
EOF
        # Look-alikes: a docker config without auths (credential helper), an
        # empty kube config.
        printf '{\n\t"credsStore": "pass"\n}\n' | w home/user/.docker/config.json 0600
        : | w home/user/.kube/config 0600
        own 1000 1000 home/user/.aws home/user/.aws/credentials home/user/.aliyun \
            home/user/.aliyun/config.json home/user/.docker home/user/.docker/config.json \
            home/user/.kube home/user/.kube/config
    }
    sys_mbr
}

fx_dirty_secrets() {
    begin dirty-secrets
    plant_tree() {
        sec rsa-pem "$FX/id_rsa" | w home/user/.ssh/id_rsa 0600
        sec ssh-rsa "$FX/id_rsa" --comment user@debian --pub "$TREE/home/user/.ssh/id_rsa.pub" >/dev/null
        sec ssh-ed25519 "$FX/id_ed25519" --encrypted --comment user@debian --pub "$TREE/home/user/.ssh/id_ed25519.pub" |
            w home/user/.ssh/id_ed25519 0600
        w home/user/deploy/aliyun.env 0600 <<EOF
# Alibaba Cloud credentials for the OSS backup job
ALIBABA_CLOUD_ACCESS_KEY_ID=$(sec ali-key-id "$FX/ali")
ALIBABA_CLOUD_ACCESS_KEY_SECRET=$(sec ali-secret "$FX/ali")
OSS_BUCKET=backup-prod
EOF
        w home/user/deploy/aws.env 0600 <<EOF
# S3 mirror
AWS_ACCESS_KEY_ID=$(sec aws-key-id "$FX/aws")
aws_secret_access_key = $(sec aws-secret "$FX/aws")
AWS_DEFAULT_REGION=eu-west-1
EOF
        w home/user/deploy/ci.sh 0755 <<EOF
#!/bin/sh
set -e
export GITHUB_TOKEN=$(sec github "$FX/gh")
git clone https://github.com/example/app.git /srv/app
EOF
        w home/user/deploy/session.txt 0600 <<EOF
Authorization: Bearer $(sec jwt "$FX/jwt")
EOF
        w opt/app/config.yml <<EOF
server:
  port: 8080
database:
  url: postgres://app:$(sec password "$FX/url")@db.internal:5432/app
  pool: 10
EOF
        w opt/app/settings.ini <<EOF
[mail]
host = smtp.internal
user = noreply
password = $(sec password "$FX/ini")
EOF
        printf 'machine ftp.internal login deploy password %s\n' "$(sec password "$FX/netrc")" | w home/user/.netrc 0600
        printf 'db.internal:5432:app:app:%s\n' "$(sec password "$FX/pgpass")" | w home/user/.pgpass 0600
        printf '[client]\nuser=app\npassword=%s\nhost=db.internal\n' "$(sec password "$FX/mycnf")" | w home/user/.my.cnf 0600
        printf 'https://deploy:%s@git.internal\n' "$(sec password "$FX/gitcred")" | w home/user/.git-credentials 0600
        w etc/NetworkManager/system-connections/office-wifi.nmconnection 0600 <<EOF
[connection]
id=office-wifi
uuid=$(mkuuid "$FX/nm")
type=wifi

[wifi]
mode=infrastructure
ssid=office

[wifi-security]
key-mgmt=wpa-psk
psk=$(sec password "$FX/psk")

[ipv4]
method=auto
EOF
        own 1000 1000 home/user/.ssh home/user/.ssh/id_rsa home/user/.ssh/id_rsa.pub home/user/.ssh/id_ed25519 home/user/.ssh/id_ed25519.pub \
            home/user/deploy home/user/deploy/aliyun.env home/user/deploy/aws.env home/user/deploy/ci.sh home/user/deploy/session.txt \
            home/user/.netrc home/user/.pgpass home/user/.my.cnf home/user/.git-credentials
        chmod 0700 "$TREE/home/user/.ssh"
    }
    sys_mbr
}

# Placeholders, documentation examples and look-alikes: no secret.* rule may
# fire on this image.
fx_dirty_lookalikes() {
    begin dirty-lookalikes
    plant_tree() {
        local ex_id="AKIA""IOSFODNN7""EXAMPLE" ex_secret="wJalrXUtnFEMI/K7MDENG/bPxRfiCY""EXAMPLEKEY"
        w home/user/deploy/example.env <<EOF
# Copy to .env and fill in. Values below are the AWS documentation examples.
AWS_ACCESS_KEY_ID=$ex_id
AWS_SECRET_ACCESS_KEY=$ex_secret
ALIBABA_CLOUD_ACCESS_KEY_ID=<your-access-key-id>
ALIBABA_CLOUD_ACCESS_KEY_SECRET=\${ALIBABA_CLOUD_ACCESS_KEY_SECRET}
DB_PASSWORD=changeme
password=password
smtp_password = xxx
api_password: "<password>"
DATABASE_URL=postgres://user:password@localhost:5432/app
REDIS_URL=redis://:\${REDIS_PASSWORD}@cache:6379/0
GITHUB_TOKEN=ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx
EOF
        # Strings that contain a prefix but are not keys: LTAI/AKIA inside a
        # longer base64 word, UUIDs, digests, a public certificate, public keys.
        w home/user/notes/lookalikes.txt <<EOF
Basalt and SALTAIRE are rocks, not keys.
blob: q9$(sec hex "$FX/b1" --length 8)LTAI$(sec hex "$FX/b2" --length 10)zz
blob: Q$(sec hex "$FX/b3" --length 6)AKIA$(sec hex "$FX/b4" --length 8 | tr a-f A-F)QQ
build-id: $(mkuuid "$FX/uuid")
sha256: $(printf lookalike | sha256sum | cut -c1-64)
commit: $(printf lookalike | sha1sum | cut -c1-40)
session: 0000000000000000000000000000000000000000
EOF
        printf '%s' "-----BEGIN CERTIFICATE-----
$(sec hex "$FX/cert" --length 48 | base64 -w 64)
-----END CERTIFICATE-----
" | w home/user/notes/ca.crt
        printf '%s' "-----BEGIN PUBLIC KEY-----
$(sec hex "$FX/pub" --length 40 | base64 -w 64)
-----END PUBLIC KEY-----
" | w home/user/notes/server.pub.pem
        sec ssh-ed25519 "$FX/known" --pub "$WORK/$FX.pub" >/dev/null
        printf 'git.internal %s' "$(cat "$WORK/$FX.pub")" | w home/user/.ssh/known_hosts
        rm -f "$WORK/$FX.pub"
        own 1000 1000 home/user/deploy home/user/deploy/example.env home/user/notes home/user/notes/lookalikes.txt \
            home/user/notes/ca.crt home/user/notes/server.pub.pem home/user/.ssh home/user/.ssh/known_hosts
    }
    sys_mbr
}

fx_dirty_shadow_hash() {
    begin dirty-shadow-hash
    plant_tree() {
        local hash
        hash=$(sec sha512crypt "$FX/root")
        awk -v h="$hash" 'BEGIN{FS=OFS=":"} $1=="root"{$2=h} {print}' "$TREE/etc/shadow" >"$WORK/$FX.shadow"
        cat "$WORK/$FX.shadow" >"$TREE/etc/shadow"
        rm -f "$WORK/$FX.shadow"
        meta shadow.line 1
    }
    sys_mbr
}

# A private key written and deleted with debugfs: its block is free in the
# bitmap but still holds the key (what virt-sysprep leaves behind).
fx_dirty_deleted_key() {
    begin dirty-deleted-key
    plant_fs() {
        local key=$WORK/$FX.key blk
        sec rsa-pem "$FX/old" >"$key"
        printf 'cd /home/user\nwrite %s old_id_rsa\n' "$key" | dbg "$DEV"
        blk=$(block_of "$DEV" /home/user/old_id_rsa 0)
        rm_files "$DEV" /home/user/old_id_rsa
        meta deleted.path /home/user/old_id_rsa
        meta deleted.block "$blk"
        meta deleted.offset_bytes $((ROOT_OFF + blk * 4096))
        meta deleted.length "$(stat -c %s "$key")"
        rm -f "$key"
    }
    sys_mbr
    # The key must still be in the raw bytes.
    local off
    off=$(sed -n 's/^deleted.offset_bytes=//p' "$META")
    dd if="$IMG" bs=4096 iflag=skip_bytes skip="$off" count=1 status=none | grep -q 'PRIVATE KEY' ||
        die "$FX: deleted key not found at $off"
}

# A file whose first extent boundary cuts a GitHub token in two: 64 one-block
# filler files, every other one deleted, then the notes file written into the
# gaps (one block per extent).
fx_dirty_fragmented() {
    begin dirty-fragmented
    plant_tree() {
        mkdir -p "$TREE/var/cache/filler" "$TREE/home/user/notes"
        fixtool fillers "$TREE/var/cache/filler" --count 64 --size 4096 --seed "$FX"
        printf 'Notes of the deploy user.\n' >"$TREE/home/user/notes/README"
        own 1000 1000 home/user/notes home/user/notes/README
    }
    plant_fs() {
        local i notes=$WORK/$FX.notes info b0 b1 gone=()
        for ((i = 1; i < 64; i += 2)); do
            gone+=("/var/cache/filler/f$(printf %03d "$i")")
            rm "$TREE${gone[-1]}"
        done
        rm_files "$DEV" "${gone[@]}"
        info=$(fixtool frag-notes "$notes" --token "$(sec github "$FX/frag")" --block 4096 --before 18 --blocks 8)
        printf 'cd /home/user/notes\nwrite %s fragmented.txt\n' "$notes" | dbg "$DEV"
        cp "$notes" "$TREE/home/user/notes/fragmented.txt"
        touch -d "@$RF_EPOCH" "$TREE/home/user/notes/fragmented.txt" "$TREE/home/user/notes" "$TREE/var/cache/filler"
        printf '/home/user/notes/fragmented.txt 1000 1000\n' >>"$OWN"
        b0=$(block_of "$DEV" /home/user/notes/fragmented.txt 0)
        b1=$(block_of "$DEV" /home/user/notes/fragmented.txt 1)
        [ $((b1 - b0)) -gt 1 ] || die "$FX: file is not fragmented ($b0, $b1)"
        meta frag.path /home/user/notes/fragmented.txt
        local kv
        for kv in $info; do meta "frag.${kv%%=*}" "${kv#*=}"; done
        meta frag.boundary_file_offset 4096
        meta frag.block0 "$b0"
        meta frag.block1 "$b1"
        meta frag.block0_offset_bytes $((ROOT_OFF + b0 * 4096))
        meta frag.block1_offset_bytes $((ROOT_OFF + b1 * 4096))
        rm -f "$notes"
    }
    sys_mbr
}

fx_dirty_logs() {
    begin dirty-logs
    plant_tree() {
        w var/log/syslog 0640 <<'EOF'
2023-10-01T11:58:01.104215+00:00 debian systemd[1]: Started ssh.service - OpenBSD Secure Shell server.
2023-10-01T11:58:02.331870+00:00 debian systemd[1]: Reached target multi-user.target - Multi-User System.
2023-10-01T11:59:40.000112+00:00 debian dhclient[402]: DHCPACK of 172.16.0.12 from 172.16.0.253
EOF
        w var/log/auth.log 0640 <<'EOF'
2023-10-01T11:59:12.562310+00:00 debian sshd[611]: Accepted publickey for user from 203.0.113.7 port 50122 ssh2: ED25519 SHA256:Q2ZpeHR1cmUta2V5LWZpbmdlcnByaW50
2023-10-01T11:59:12.570201+00:00 debian sshd[611]: pam_unix(sshd:session): session opened for user user(uid=1000) by (uid=0)
EOF
        w var/log/apt/history.log <<'EOF'

Start-Date: 2023-10-01  11:59:30
Commandline: apt-get install -y mariadb-client
Install: mariadb-client:amd64 (1:10.11.4-1~deb12u1)
End-Date: 2023-10-01  11:59:34
EOF
        own 0 4 var/log/syslog var/log/auth.log
    }
    sys_mbr
}

fx_dirty_authorized_keys() {
    begin dirty-authorized-keys
    plant_tree() {
        sec ssh-ed25519 "$FX/admin" --comment admin@laptop --pub "$WORK/$FX.pub" >/dev/null
        mkdir -p "$TREE/root/.ssh" "$TREE/home/user/.ssh"
        chmod 0700 "$TREE/root/.ssh" "$TREE/home/user/.ssh"
        w root/.ssh/authorized_keys 0600 <"$WORK/$FX.pub"
        rm -f "$WORK/$FX.pub"
        # Comments only: no keys, no finding.
        printf '# Add public keys here, one per line.\n' | w home/user/.ssh/authorized_keys 0600
        own 1000 1000 home/user/.ssh home/user/.ssh/authorized_keys
    }
    sys_mbr
}

fx_dirty_cloud_init() {
    begin dirty-cloud-init
    plant_tree() {
        local id=i-bp1f3c9a2d7e5b4c8a6f c=var/lib/cloud
        printf '#cloud-config\nhostname: web-01\npackage_update: true\n' | w "$c/instances/$id/user-data.txt" 0600
        printf 'DataSourceAliYun: DataSourceAliYun\n' | w "$c/instances/$id/datasource"
        printf '%s\n' "$id" | w "$c/data/instance-id"
        printf '%s - up 12.34 seconds\n' "2023-10-01T11:58:05+00:00" | w "$c/instances/$id/boot-finished"
        printf 'fixture pickle\n' | w "$c/instances/$id/obj.pkl" 0600
        l "/$c/instances/$id" "$c/instance"
        d "$c/scripts/per-boot" "$c/seed"
    }
    sys_mbr
}

# =============================================================================
# Fixtures: issue 5 (hostile)
# =============================================================================

# small_gpt: a 16 MiB GPT disk with one 8 MiB ext4 partition (p1) and one
# 4 MiB ext4 partition (p2), both with a tiny tree.
small_gpt() {
    local guid
    guid=$(mkuuid "$FX/disk")
    sfdisk_table "$IMG" $((16 * MiB)) <<EOF
label: gpt
label-id: $guid
unit: sectors

start=2048, size=16384, type=$LINUX_FS, uuid=$(mkuuid "$FX/p1"), name="one"
start=18432, size=8192, type=$LINUX_FS, uuid=$(mkuuid "$FX/p2"), name="two"
EOF
    meta table gpt
    meta sector_size 512
    meta disk_id "$guid"
    small_fs 1 $MiB $((8 * MiB)) "$LINUX_FS" "$(mkuuid "$FX/p1")"
    small_fs 2 $((9 * MiB)) $((4 * MiB)) "$LINUX_FS" "$(mkuuid "$FX/p2")"
}

small_fs() {
    local tree=$OUT/trees/$FX.p$1 uuid
    uuid=$(mkuuid "$FX/fs$1")
    mkdir -p "$tree"
    printf 'partition %s of %s\n' "$1" "$FX" >"$tree/hello.txt"
    rf_fix_mtimes "$tree"
    MK_BS=1024 mkext4 "$IMG" "$2" "$3" "$uuid" "part$1" "$tree"
    fs_fixup "$IMG?offset=$2" "$tree"
    part_meta "$1" "$2" "$3" "$4" ext4 "$uuid" "part$1" "$5" clean
}

fx_hostile_gpt_array_past_end() {
    begin hostile-gpt-array-past-end
    small_gpt
    # Both headers (CRC recomputed) point their entry array far past the end.
    fixtool gpt-patch "$IMG" --which both --entries-lba 0x100000000
    meta sfdisk pmbr
    finish
}

fx_hostile_gpt_overlap() {
    begin hostile-gpt-overlap
    small_gpt
    # p1 grown to LBA 26623 so that it contains p2 [18432, 26623]; both
    # filesystems still start where their entries say. Entries CRC and
    # header CRC recomputed: self-consistent, only the geometry is wrong.
    fixtool gpt-patch "$IMG" --which both --entry 1:2048:26623
    meta_set p1.size_bytes $((12 * MiB))
    meta overlap "p1 [2048,26623] contains p2 [18432,26623] (LBAs)"
    meta sfdisk ok
    finish
}

fx_hostile_gpt_entries_2e32() {
    begin hostile-gpt-entries-2e32
    small_gpt
    # The largest count a u32 holds; count * 128 bytes = 512 GiB of entries.
    fixtool gpt-patch "$IMG" --which both --num-entries 0xffffffff
    meta sfdisk pmbr
    finish
}

fx_hostile_gpt_entry_size() {
    begin hostile-gpt-entry-size
    small_gpt
    fixtool gpt-patch "$IMG" --which both --entry-size 0xffffffff
    meta sfdisk pmbr
    finish
}

# small_mbr_ext: MBR with p1 ext4 and an extended partition with two
# logical ext4 partitions (p5, p6).
small_mbr_ext() {
    local sig
    sig=$(mkdiskid "$FX/disk")
    sfdisk_table "$IMG" $((16 * MiB)) <<EOF
label: dos
label-id: $sig
unit: sectors

start=2048, size=8192, type=83
start=10240, size=22528, type=5
start=12288, size=6144, type=83
start=20480, size=6144, type=83
EOF
    meta table mbr
    meta sector_size 512
    meta disk_id "$sig"
    small_fs 1 $MiB $((4 * MiB)) 83 "${sig#0x}-01"
    part_meta 2 $((5 * MiB)) $((11 * MiB)) 5 "" "" "" "${sig#0x}-02" none
    small_fs 5 $((6 * MiB)) $((3 * MiB)) 83 "${sig#0x}-05"
    small_fs 6 $((10 * MiB)) $((3 * MiB)) 83 "${sig#0x}-06"
}

fx_hostile_mbr_ebr_loop() {
    begin hostile-mbr-ebr-loop
    small_mbr_ext
    local info kv
    info=$(fixtool ebr-loop "$IMG" --to first)
    for kv in $info; do meta "ebr.${kv%%=*}" "${kv#*=}"; done
    # sfdisk follows the loop until its 60-partition cap.
    meta sfdisk other
    finish
}

fx_hostile_mbr_ebr_self() {
    begin hostile-mbr-ebr-self
    small_mbr_ext
    local info kv
    info=$(fixtool ebr-loop "$IMG" --to self)
    for kv in $info; do meta "ebr.${kv%%=*}" "${kv#*=}"; done
    meta sfdisk other
    finish
}

# MBR whose only partition runs 64 MiB past the end of the file.
fx_hostile_mbr_past_end() {
    begin hostile-mbr-past-end
    local sig
    sig=$(mkdiskid "$FX/disk")
    sfdisk_table "$IMG" $((80 * MiB)) <<EOF
label: dos
label-id: $sig
unit: sectors

start=2048, size=$((72 * MiB / 512)), type=83
EOF
    meta table mbr
    meta sector_size 512
    meta disk_id "$sig"
    small_fs 1 $MiB $((8 * MiB)) 83 "${sig#0x}-01"
    truncate -s $((16 * MiB)) "$IMG"
    # The table's view; the filesystem inside is 8 MiB and fits.
    meta_set p1.size_bytes $((72 * MiB))
    meta partition_end_bytes $((73 * MiB))
    meta sfdisk ok
    finish
}

fx_hostile_dir_loop() {
    begin hostile-dir-loop
    plant_tree() { d opt/loop/sub; }
    plant_fs() {
        # Hard links to directories (link counts untouched): one back to its
        # own parent's parent, one to the root.
        printf 'ln /opt/loop /opt/loop/sub/back\nln / /opt/loop/sub/root\n' | dbg "$DEV"
    }
    FSCK=skip
    sys_mbr
    meta tree.differs "/opt/loop/sub/back /opt/loop/sub/root"
}

fx_hostile_symlink_loop() {
    begin hostile-symlink-loop
    plant_tree() {
        l b opt/loop/a
        l a opt/loop/b
        l self opt/loop/self
        l . opt/loop/dot
        l ../loop opt/loop/up
        # A chain longer than Linux's 40-link limit, ending at a real file.
        local i
        for ((i = 0; i < 49; i++)); do l "chain$((i + 1))" "opt/loop/chain$i"; done
        l /etc/hostname opt/loop/chain49
    }
    sys_mbr
}

fx_hostile_symlink_escape() {
    begin hostile-symlink-escape
    plant_tree() {
        # Resolved inside the image (.. stops at /), never on the host.
        l ../../../../etc/passwd opt/escape/passwd
        l /etc/shadow opt/escape/abs
        l ../../../../../../../../.. opt/escape/rootdir
        l ../../../../../../../../../etc/hostname opt/escape/hostname
    }
    sys_mbr
}

# mke2fs -d links entries into a linear directory, which is quadratic for
# 10 000 names. So: 400 entries from the tree, e2fsck -D to turn the
# directory into an htree, then the other 9 600 through debugfs (ext2fs_link
# inserts into the htree).
fx_hostile_bigdir() {
    begin hostile-bigdir
    MKFS_ARGS=(-N 16384)
    plant_tree() {
        mkdir -p "$TREE/var/cache/many"
        (cd "$TREE/var/cache/many" && for ((i = 0; i < 400; i++)); do printf 'f%05d\0' "$i"; done | xargs -0 touch)
    }
    plant_fs() {
        local empty=$WORK/$FX.empty i
        e2fsck -fyD "$DEV" >/dev/null 2>&1 || [ $? -le 1 ] || die "e2fsck -D failed"
        : >"$empty"
        {
            echo "cd /var/cache/many"
            for ((i = 400; i < 10000; i++)); do printf 'write %s f%05d\n' "$empty" "$i"; done
        } | dbg "$DEV"
        (cd "$TREE/var/cache/many" && for ((i = 400; i < 10000; i++)); do printf 'f%05d\0' "$i"; done |
            xargs -0 touch -d "@$RF_EPOCH")
        touch -d "@$RF_EPOCH" "$TREE/var/cache/many"
        rm -f "$empty"
    }
    sys_mbr
    meta bigdir.path /var/cache/many
    meta bigdir.entries 10000
}

fx_hostile_deep_tree() {
    begin hostile-deep-tree
    plant_tree() {
        local p=srv/deep i
        for ((i = 1; i <= 100; i++)); do p="$p/d$(printf %03d "$i")"; done
        mkdir -p "$TREE/$p"
        printf 'bottom\n' >"$TREE/$p/leaf.txt"
        meta deep.leaf "/$p/leaf.txt"
    }
    sys_mbr
    meta deep.depth 100
}

# A 1 TiB sparse file: data at 0 and in the last 4 KiB. Not in the tree
# (reading it whole would take hours); meta gives size and markers.
fx_hostile_sparse_1t() {
    begin hostile-sparse-1t
    plant_fs() {
        local f=$WORK/$FX.sparse size=$((1 << 40))
        rm -f "$f"
        printf 'BEGIN-OF-SPARSE-FILE\n' >"$f"
        printf 'END-OF-SPARSE-FILE\n' | dd of="$f" bs=1 seek=$((size - 4096)) conv=notrunc status=none
        truncate -s "$size" "$f"
        printf 'cd /srv\nwrite %s sparse-1t.img\n' "$f" | dbg "$DEV"
        rm -f "$f"
        meta sparse.size_bytes "$size"
        meta sparse.end_marker_offset $((size - 4096))
    }
    sys_mbr
    meta sparse.path /srv/sparse-1t.img
    meta tree.differs /srv/sparse-1t.img
}

fx_hostile_bad_csum() {
    begin hostile-bad-csum
    plant_last() {
        # Flip the low byte of i_checksum_lo (inode offset 0x7C) of one
        # inode: metadata_csum then rejects just that file.
        local loc ino blk ioff off byte
        loc=$(dbg_ro "$DEV" 'imap /home/user/.profile')
        ino=$(printf '%s\n' "$loc" | sed -n 's/^Inode \([0-9]*\) is.*/\1/p')
        blk=$(printf '%s\n' "$loc" | sed -n 's/.*located at block \([0-9]*\),.*/\1/p')
        ioff=$(printf '%s\n' "$loc" | sed -n 's/.*offset \(0x[0-9a-f]*\).*/\1/p')
        off=$((ROOT_OFF + blk * 4096 + ioff + 0x7C))
        byte=$(od -An -tu1 -j "$off" -N1 "$IMG" | tr -d ' ')
        # shellcheck disable=SC2059
        printf "$(printf '\\%03o' $((byte ^ 0xff)))" | dd of="$IMG" bs=1 seek="$off" conv=notrunc status=none
        meta bad_csum.path /home/user/.profile
        meta bad_csum.inode "$ino"
        meta bad_csum.offset_bytes "$off"
    }
    FSCK=skip
    sys_mbr
}

fx_hostile_encrypted_dir() {
    begin hostile-encrypted-dir
    MKFS_ARGS=(-O encrypt)
    plant_tree() {
        printf 'private notes\n' | w home/user/private/notes.txt 0600
        d home/user/private/sub
        own 1000 1000 home/user/private home/user/private/notes.txt home/user/private/sub
    }
    plant_fs() {
        # EXT4_ENCRYPT_FL (0x800) without an encryption context: what a
        # reader sees of an fscrypt directory is the flag first.
        local p
        for p in /home/user/private /home/user/private/notes.txt /home/user/private/sub; do
            set_flags "$DEV" "$p" 0x800
        done
    }
    FSCK=skip
    sys_mbr
    meta encrypted.dir /home/user/private
}

fx_fs_casefold() {
    begin fs-casefold
    MKFS_ARGS=(-O casefold)
    MK_EXT=encoding=utf8
    plant_tree() {
        printf 'readme\n' | w srv/share/README.txt
        printf 'notes\n' | w srv/share/Notes.TXT
    }
    plant_fs() { set_flags "$DEV" /srv/share 0x40000000; }
    sys_mbr
    meta casefold.dir /srv/share
}

fx_fs_block_1k() {
    begin fs-block-1k
    MK_BS=1024
    sys_mbr
}

fx_fs_block_64k() {
    begin fs-block-64k
    MK_BS=65536
    # The smallest journal is 1024 blocks (64 MiB here): 256 MiB keeps more
    # than 64 MiB free, as fs.free-space wants.
    SYS_SIZE=$((256 * MiB)) sys_mbr
}

fx_fs_inline_data() {
    begin fs-inline-data
    MKFS_ARGS=(-O inline_data)
    sys_mbr
}

fx_fs_bigalloc() {
    begin fs-bigalloc
    MKFS_ARGS=(-O bigalloc -C 16384)
    sys_mbr
}

fx_tiny_empty() {
    begin tiny-empty
    rm -f "$IMG"
    : >"$IMG"
    meta table none
    finish
}

fx_tiny_100b() {
    begin tiny-100b
    printf 'not a disk image, just 100 bytes of text padded with spaces' >"$IMG"
    truncate -s 100 "$IMG"
    meta table none
    finish
}

# =============================================================================
# Fixtures: non-ext4 roots and probing
# =============================================================================

# build_other TYPE FILE SIZE UUID LABEL [TREE]: xfs/btrfs/luks2/vfat/swap in
# a file of its own (these tools have no offset option).
build_other() {
    local type=$1 f=$2 size=$3 uuid=$4 label=$5 tree=${6:-}
    rm -f "$f"
    truncate -s "$size" "$f"
    case $type in
    xfs) mkfs.xfs -q -f -m uuid="$uuid" -L "$label" "$f" ;;
    btrfs) mkfs.btrfs -q -f -U "$uuid" -L "$label" ${tree:+--rootdir "$tree"} "$f" >/dev/null 2>&1 ;;
    crypto_LUKS)
        printf 'fixture-passphrase' | cryptsetup luksFormat -q --type luks2 --uuid "$uuid" --label "$label" \
            --pbkdf pbkdf2 --pbkdf-force-iterations 1000 --key-file - "$f"
        ;;
    vfat) mkfs.vfat --invariant -i "${uuid/-/}" -n "$label" "$f" >/dev/null ;;
    swap) mkswap -q -U "$uuid" -L "$label" "$f" >/dev/null ;;
    *) die "unknown fs $type" ;;
    esac
}

fx_sys_xfs_root() {
    begin sys-xfs-root
    local sig uuid size=$((300 * MiB)) f=$WORK/$FX.fs
    sig=$(mkdiskid "$FX/disk")
    uuid=$(mkuuid "$FX/root")
    sfdisk_table "$IMG" $((MiB + size)) <<EOF
label: dos
label-id: $sig
unit: sectors

start=2048, size=$((size / 512)), type=83, bootable
EOF
    meta table mbr
    meta sector_size 512
    meta disk_id "$sig"
    build_other xfs "$f" "$size" "$uuid" rootfs
    place "$f" "$IMG" $MiB
    rm -f "$f"
    part_meta 1 $MiB "$size" 83 xfs "$uuid" rootfs "${sig#0x}-01" none
    meta deterministic no
    finish
}

fx_sys_btrfs_root() {
    begin sys-btrfs-root
    local guid uuid size=$((128 * MiB)) f=$WORK/$FX.fs
    guid=$(mkuuid "$FX/disk")
    uuid=$(mkuuid "$FX/root")
    RF_ROOT_UUID=$uuid RF_EFI_UUID="" RF_OWNERS=$OWN RF_TABLE=gpt rootfs_cached debian "$TREE"
    sed -i 's/ ext4    errors=remount-ro 0       1/ btrfs   defaults          0       0/' "$TREE/etc/fstab"
    rf_fix_mtimes "$TREE"
    sfdisk_table "$IMG" $((2 * MiB + size)) <<EOF
label: gpt
label-id: $guid
unit: sectors

start=2048, size=$((size / 512)), type=$LINUX_FS, uuid=$(mkuuid "$FX/p1"), name="root"
EOF
    meta table gpt
    meta sector_size 512
    meta disk_id "$guid"
    build_other btrfs "$f" "$size" "$uuid" rootfs "$TREE"
    place "$f" "$IMG" $MiB
    rm -f "$f"
    part_meta 1 $MiB "$size" "$LINUX_FS" btrfs "$uuid" rootfs "$(mkuuid "$FX/p1")" none
    meta deterministic no
    finish
}

fx_sys_luks_root() {
    begin sys-luks-root
    local guid uuid size=$((32 * MiB)) f=$WORK/$FX.fs
    guid=$(mkuuid "$FX/disk")
    uuid=$(mkuuid "$FX/root")
    sfdisk_table "$IMG" $((2 * MiB + size)) <<EOF
label: gpt
label-id: $guid
unit: sectors

start=2048, size=$((size / 512)), type=$LINUX_FS, uuid=$(mkuuid "$FX/p1"), name="cryptroot"
EOF
    meta table gpt
    meta sector_size 512
    meta disk_id "$guid"
    build_other crypto_LUKS "$f" "$size" "$uuid" cryptroot
    place "$f" "$IMG" $MiB
    rm -f "$f"
    part_meta 1 $MiB "$size" "$LINUX_FS" crypto_LUKS "$uuid" cryptroot "$(mkuuid "$FX/p1")" none
    meta deterministic no
    finish
}

# One of each filesystem snapaudit probes, for blkid comparisons.
fx_data_multi_fs() {
    begin data-multi-fs
    local guid f=$WORK/$FX.fs
    guid=$(mkuuid "$FX/disk")
    # index:type:size_MiB:start_MiB
    local layout="1:ext4:16:1 2:xfs:300:17 3:btrfs:128:317 4:vfat:16:445 5:swap:8:461 6:crypto_LUKS:32:469"
    local spec idx type size start script=""
    for spec in $layout; do
        IFS=: read -r idx type size start <<<"$spec"
        script+="start=$((start * 2048)), size=$((size * 2048)), type=$LINUX_FS, uuid=$(mkuuid "$FX/p$idx"), name=\"$type\""$'\n'
    done
    sfdisk_table "$IMG" $((502 * MiB)) <<EOF
label: gpt
label-id: $guid
unit: sectors

$script
EOF
    meta table gpt
    meta sector_size 512
    meta disk_id "$guid"
    local uuid label
    for spec in $layout; do
        IFS=: read -r idx type size start <<<"$spec"
        label=vol$idx
        case $type in
        vfat) uuid=$(mkserial "$FX/fs$idx") label=VOL$idx ;;
        *) uuid=$(mkuuid "$FX/fs$idx") ;;
        esac
        if [ "$type" = ext4 ]; then
            local tree=$OUT/trees/$FX.p$idx
            mkdir -p "$tree"
            printf 'ext4 volume\n' >"$tree/hello.txt"
            rf_fix_mtimes "$tree"
            mkext4 "$IMG" $((start * MiB)) $((size * MiB)) "$uuid" "$label" "$tree"
            fs_fixup "$IMG?offset=$((start * MiB))" "$tree"
            part_meta "$idx" $((start * MiB)) $((size * MiB)) "$LINUX_FS" ext4 "$uuid" "$label" "$(mkuuid "$FX/p$idx")" clean
        else
            build_other "$type" "$f" $((size * MiB)) "$uuid" "$label"
            place "$f" "$IMG" $((start * MiB))
            part_meta "$idx" $((start * MiB)) $((size * MiB)) "$LINUX_FS" "$type" "$uuid" "$label" "$(mkuuid "$FX/p$idx")" none
        fi
    done
    rm -f "$f"
    meta deterministic no
    finish
}

# A data disk (no OS) for `snapaudit scan`: GPT, one ext4 partition.
fx_data_scan() {
    begin data-scan
    local guid uuid tree=$OUT/trees/data-scan.p1
    guid=$(mkuuid "$FX/disk")
    uuid=$(mkuuid "$FX/fs1")
    sfdisk_table "$IMG" $((34 * MiB)) <<EOF
label: gpt
label-id: $guid
unit: sectors

start=2048, size=65536, type=$LINUX_FS, uuid=$(mkuuid "$FX/p1"), name="data"
EOF
    meta table gpt
    meta sector_size 512
    meta disk_id "$guid"
    mkdir -p "$tree/backup" "$tree/exports"
    printf -- '-- dump of app\nCREATE TABLE users (id int, name text);\nINSERT INTO users VALUES (1, %s);\n' "'alice'" >"$tree/backup/app.sql"
    printf '# exported for the migration\naws_access_key_id=%s\naws_secret_access_key=%s\n' \
        "$(sec aws-key-id "$FX/aws")" "$(sec aws-secret "$FX/aws")" >"$tree/exports/keys.txt"
    printf 'db.internal:5432:app:app:%s\n' "$(sec password "$FX/pgpass")" >"$tree/backup/.pgpass"
    rf_fix_mtimes "$tree"
    mkext4 "$IMG" $MiB $((32 * MiB)) "$uuid" data "$tree"
    fs_fixup "$IMG?offset=$MiB" "$tree"
    part_meta 1 $MiB $((32 * MiB)) "$LINUX_FS" ext4 "$uuid" data "$(mkuuid "$FX/p1")" clean
    finish
}

# =============================================================================

# In order of definition (declare -F would sort them).
ALL=$(sed -n 's/^fx_\([a-z0-9_]*\)() {$/\1/p' "$HERE/build-fixtures.sh")

: >"$WORK/list"
SELECTED=()
for f in $ALL; do
    name=${f//_/-}
    if [ -n "${FIXTURES_ONLY:-}" ]; then
        case " $FIXTURES_ONLY " in *" $name "*) ;; *) continue ;; esac
    fi
    SELECTED+=("$f")
done

# Fixtures are independent: build them JOBS at a time, each in a subshell
# with its own log, shown only when it fails.
JOBS=${FIXTURE_JOBS:-$(nproc 2>/dev/null || echo 2)}
[ "$JOBS" -gt 4 ] && JOBS=4
declare -A JOB_NAME=()
reap() {
    local pid
    if ! wait -n -p pid; then
        printf 'build-fixtures: %s failed:\n' "${JOB_NAME[$pid]}" >&2
        cat "$WORK/log.${JOB_NAME[$pid]}" >&2
        wait
        exit 1
    fi
    unset "JOB_NAME[$pid]"
}
for f in "${SELECTED[@]}"; do
    [ "${#JOB_NAME[@]}" -lt "$JOBS" ] || reap
    ( "fx_$f" ) >"$WORK/log.$f" 2>&1 &
    JOB_NAME[$!]=$f
done
while [ "${#JOB_NAME[@]}" -gt 0 ]; do reap; done
# The list in definition order, whatever order the jobs finished in.
for f in "${SELECTED[@]}"; do printf '%s\n' "${f//_/-}"; done >"$WORK/list"

if [ -z "${FIXTURES_ONLY:-}" ]; then
    mv "$WORK/list" "$OUT/fixtures.list"
    rm -rf "$WORK"
    printf '%s\n' "$STAMP" >"$OUT/.stamp"
    printf 'build-fixtures: %s fixtures in %ss -> %s\n' "$(wc -l <"$OUT/fixtures.list")" $((SECONDS - START_SECONDS)) "$OUT" >&2
else
    cat "$WORK/list" >&2
fi
