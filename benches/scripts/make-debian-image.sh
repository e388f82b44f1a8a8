#!/usr/bin/env bash
# Build a realistic Debian 12 (bookworm, amd64) system disk for the
# benchmarks, without mount or loop devices:
#
#   debootstrap --variant=minbase (+ a real cloud kernel, openssh-server,
#   systemd, python3, perl, git ...)  ->  users, grub.cfg, fstab
#   ->  planted secrets  ->  mke2fs -t ext4 -d ROOT part.ext4
#   ->  debugfs rm of one key file (a deleted secret in free blocks)
#   ->  sfdisk (MBR) + dd conv=sparse into a 2 GiB disk image.
#
#   benches/scripts/make-debian-image.sh [OUT.raw]     (default target/bench/debian12.raw)
#
# Beside OUT it writes:
#   OUT.part.ext4       the root partition as a file (for zerofree, debugfs rdump)
#   <OUT minus .raw>.secrets.tsv   each planted secret: path, line, image offset, kind,
#                       expected rule id (RULES.md) -- never the secret value
#   <OUT minus .raw>.stats.tsv     disk size, file bytes, file count, kernel, fs UUID
#   OUT.stamp           hash of this script and plant-secrets.py; OUT is reused while it matches
#
# Environment: MIRROR (default: the first bookworm entry of this machine's apt
# sources), DISK_SIZE (default 2G), KERNEL=real|dummy (default real),
# BENCH_DIR (default target/bench). Needs root (debootstrap, chown).
#
# About mounts: nothing here mounts or loop-attaches the image. debootstrap
# itself mounts /proc and /sys inside its chroot while packages configure;
# it runs in a private mount namespace (unshare --mount) so those mounts can
# never leak to the host, even if it is killed.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
script="$here/$(basename "${BASH_SOURCE[0]}")"
bench_dir="${BENCH_DIR:-$repo/target/bench}"
out="${1:-$bench_dir/debian12.raw}"
disk_size="${DISK_SIZE:-2G}"
kernel_mode="${KERNEL:-real}"

suite=bookworm
arch=amd64
# Packages on top of minbase. They make the system bootable-looking (init,
# a real cloud kernel with its modules and initramfs, sshd) and bring it to
# about 400 MB of files with what a small cloud server carries: python3,
# perl, curl and their libraries. (Adding git or mariadb-client grows it
# past 500 MB.)
include=(
    systemd-sysv udev kmod linux-image-cloud-amd64 initramfs-tools
    openssh-server sudo ca-certificates curl less vim-tiny iproute2 ifupdown
    isc-dhcp-client netbase python3 python3-yaml python3-requests perl
)

log() { printf 'make-debian-image: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

[[ $(id -u) -eq 0 ]] || die "needs root (debootstrap, chown of planted files)"
for t in debootstrap mke2fs debugfs e2fsck sfdisk ssh-keygen openssl python3 unshare; do
    command -v "$t" >/dev/null || die "missing $t (run benches/scripts/setup-peers.sh)"
done
# Heavy steps share 2 cores with other work: be polite.
renice -n 10 -p $$ >/dev/null 2>&1 || true

mkdir -p "$(dirname "$out")"
out="$(cd "$(dirname "$out")" && pwd)/$(basename "$out")"
base="${out%.raw}"
part="$out.part.ext4"
tsv="$base.secrets.tsv"
stats="$base.stats.tsv"
stamp="$out.stamp"

want_stamp="$( { sha256sum "$script" "$here/plant-secrets.py" | cut -d' ' -f1; echo "$disk_size $kernel_mode"; } | sha256sum | cut -c1-16)"
if [[ -f "$out" && -f "$part" && -f "$tsv" && -f "$stamp" && "$(cat "$stamp")" == "$want_stamp" ]]; then
    log "up to date: $out (script unchanged)"
    cat "$stats" >&2 || true
    exit 0
fi

# --- mirror from this machine's apt sources --------------------------------
find_mirror() {
    local f
    # deb822 *.sources: first enabled "Types: deb" paragraph listing the suite.
    for f in /etc/apt/sources.list.d/*.sources; do
        [[ -f "$f" ]] || continue
        awk -v suite="$suite" '
            function flush() {
                if (types ~ /(^| )deb( |$)/ && suites ~ ("(^| )" suite "( |$)") && enabled != "no" && uri != "")
                    { print uri; found = 1; exit }
                types = suites = uri = ""; enabled = "yes"
            }
            BEGIN { enabled = "yes" }
            /^[ \t]*$/ { flush(); next }
            /^#/ { next }
            tolower($1) == "types:" { $1 = ""; types = $0 }
            tolower($1) == "suites:" { $1 = ""; suites = $0 }
            tolower($1) == "uris:" { uri = $2 }
            tolower($1) == "enabled:" { enabled = tolower($2) }
            END { if (!found) flush() }' "$f"
    done
    # one-line style: deb [options] URI SUITE COMPONENTS...
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [[ -f "$f" ]] || continue
        sed -e 's/#.*//' -e 's/\[[^]]*\]//' "$f" |
            awk -v suite="$suite" '$1 == "deb" && $3 == suite { print $2; exit }'
    done
}
mirror="${MIRROR:-$(find_mirror | head -n1)}"
[[ -n "$mirror" ]] || die "no '$suite' deb source in /etc/apt/sources.list*; set MIRROR"
# The security archive has no main suite to bootstrap from.
[[ "$mirror" != *security* ]] || die "first $suite source is a security archive ($mirror); set MIRROR"
log "mirror from apt sources: $mirror"

# --- 1. debootstrap (cached by its inputs) ---------------------------------
cache_dir="$bench_dir/cache"
mkdir -p "$cache_dir"
pkgs="$(IFS=,; echo "${include[*]}")"
[[ "$kernel_mode" == real ]] || pkgs="${pkgs/linux-image-cloud-amd64,/}"
base_key="$(echo "$suite $arch minbase $pkgs $mirror" | sha256sum | cut -c1-12)"
base_root="$cache_dir/rootfs-$base_key"
if [[ ! -f "$base_root.ok" ]]; then
    rm -rf "$base_root"
    log "debootstrap --variant=minbase $suite ($arch) with ${#include[@]} extra packages -> $base_root"
    t0=$SECONDS
    unshare --mount --propagation private \
        debootstrap --arch="$arch" --variant=minbase --components=main \
        --include="$pkgs" "$suite" "$base_root" "$mirror" \
        >"$cache_dir/debootstrap-$base_key.log" 2>&1 ||
        { tail -n 30 "$cache_dir/debootstrap-$base_key.log" >&2; die "debootstrap failed (log: $cache_dir/debootstrap-$base_key.log)"; }
    # What a cloud image build does before shipping: no package cache and
    # no package lists (apt-get clean; rm -rf /var/lib/apt/lists/*).
    rm -f "$base_root"/var/cache/apt/archives/*.deb
    find "$base_root/var/lib/apt/lists" -maxdepth 1 -type f -delete
    touch "$base_root.ok"
    log "debootstrap done in $((SECONDS - t0)) s"
fi

# --- 2. system layout on a fresh copy --------------------------------------
work="$bench_dir/work-$(basename "$base")"
root="$work/root"
rm -rf "$work"
mkdir -p "$work"
cp -a "$base_root" "$root"

fs_uuid="$(python3 -c 'import uuid; print(uuid.uuid4())')"
part_start_bytes=$((2048 * 512))

kver="$(find "$root/lib/modules" -mindepth 1 -maxdepth 1 -type d -printf '%f\n' 2>/dev/null | sort -V | tail -n1)"
if [[ "$kernel_mode" == dummy || -z "$kver" || ! -e "$root/boot/vmlinuz-$kver" ]]; then
    # Fallback layout when a real kernel cannot be installed: the files the
    # boot and os rules look at, with plausible sizes.
    kver="6.1.0-99-cloud-amd64"
    log "using a dummy kernel layout ($kver)"
    mkdir -p "$root/boot" "$root/lib/modules/$kver/kernel"
    head -c $((8 << 20)) /dev/urandom >"$root/boot/vmlinuz-$kver"
    head -c $((20 << 20)) /dev/urandom >"$root/boot/initrd.img-$kver"
    : >"$root/lib/modules/$kver/modules.dep"
fi
[[ -e "$root/boot/initrd.img-$kver" ]] || die "kernel $kver has no initrd in /boot"
log "kernel $kver"

printf 'bench-debian12\n' >"$root/etc/hostname"
cat >"$root/etc/hosts" <<EOF
127.0.0.1	localhost
127.0.1.1	bench-debian12

::1	localhost ip6-localhost ip6-loopback
ff02::1	ip6-allnodes
ff02::2	ip6-allrouters
EOF
# debootstrap copies the build host's resolv.conf; an image must not carry it.
printf 'nameserver 100.100.2.136\nnameserver 100.100.2.138\n' >"$root/etc/resolv.conf"
cat >"$root/etc/fstab" <<EOF
# /etc/fstab: static file system information.
#
# <file system>	<mount point>	<type>	<options>	<dump>	<pass>
UUID=$fs_uuid	/	ext4	errors=remount-ro	0	1
tmpfs	/tmp	tmpfs	defaults,nosuid,nodev	0	0
EOF
mkdir -p "$root/etc/network"
cat >"$root/etc/network/interfaces" <<'EOF'
source /etc/network/interfaces.d/*

auto lo
iface lo inet loopback

auto eth0
iface eth0 inet dhcp
EOF

# grub.cfg in the layout update-grub writes (no grub install: the image is
# never booted, and grub-install would want a real block device).
mkdir -p "$root/boot/grub"
cmdline="root=UUID=$fs_uuid ro console=tty0 console=ttyS0,115200n8 net.ifnames=0 biosdevname=0"
entry() { # title id extra-args
    cat <<EOF
	load_video
	insmod gzio
	insmod part_msdos
	insmod ext2
	search --no-floppy --fs-uuid --set=root $fs_uuid
	echo	'Loading Linux $kver ...'
	linux	/boot/vmlinuz-$kver $cmdline$1
	echo	'Loading initial ramdisk ...'
	initrd	/boot/initrd.img-$kver
EOF
}
{
    cat <<EOF
#
# DO NOT EDIT THIS FILE
#
# It is automatically generated by grub-mkconfig using templates
# from /etc/grub.d and settings from /etc/default/grub
#

### BEGIN /etc/grub.d/00_header ###
if [ -s \$prefix/grubenv ]; then
  set have_grubenv=true
  load_env
fi
set default="0"
function load_video {
  insmod all_video
}
terminal_input console serial
terminal_output console serial
set timeout=1
### END /etc/grub.d/00_header ###

### BEGIN /etc/grub.d/10_linux ###
menuentry 'Debian GNU/Linux' --class debian --class gnu-linux --class gnu --class os \$menuentry_id_option 'gnulinux-simple-$fs_uuid' {
EOF
    entry ""
    printf '}\n'
    printf "submenu 'Advanced options for Debian GNU/Linux' \$menuentry_id_option 'gnulinux-advanced-%s' {\n" "$fs_uuid"
    printf "menuentry 'Debian GNU/Linux, with Linux %s' --class debian --class gnu-linux --class gnu --class os \$menuentry_id_option 'gnulinux-%s-advanced-%s' {\n" "$kver" "$kver" "$fs_uuid"
    entry ""
    printf '}\n'
    printf "menuentry 'Debian GNU/Linux, with Linux %s (recovery mode)' --class debian --class gnu-linux --class gnu --class os \$menuentry_id_option 'gnulinux-%s-recovery-%s' {\n" "$kver" "$kver" "$fs_uuid"
    entry " single"
    printf '}\n}\n### END /etc/grub.d/10_linux ###\n'
} >"$root/boot/grub/grub.cfg"
printf '# GRUB Environment Block\n' >"$root/boot/grub/grubenv"
# grubenv is always exactly 1024 bytes, padded with '#'.
python3 - "$root/boot/grub/grubenv" <<'EOF'
import sys
p = sys.argv[1]
head = open(p, "rb").read()
open(p, "wb").write(head + b"#" * (1024 - len(head)))
EOF

# Users (the accounts rules and the planted secrets' owners).
for u in alice:1000 bob:1001 deploy:1002; do
    name="${u%%:*}"; uid="${u##*:}"
    chroot "$root" useradd -m -s /bin/bash -u "$uid" -U "$name"
done
chroot "$root" usermod -aG sudo alice

# --- 3. planted secrets ----------------------------------------------------
# Every value is generated here, from random pieces: this script holds no
# literal secret, and each build plants fresh ones. secrets.tsv records where
# each one is and which rule must fire -- never the value.
python3 "$here/plant-secrets.py" "$root" "$tsv.partial"

# --- 4. filesystem, deleted secret, disk -----------------------------------
case "$disk_size" in
*G) disk_bytes=$(( ${disk_size%G} << 30 )) ;;
*M) disk_bytes=$(( ${disk_size%M} << 20 )) ;;
*) disk_bytes=$disk_size ;;
esac
part_bytes=$((disk_bytes - part_start_bytes))

# Bytes of file data (hard links counted once: that is what is on disk) and
# number of regular-file paths.
file_bytes="$(find "$root" -xdev -type f -printf '%i %s\n' | sort -u | awk '{s += $2} END {print s + 0}')"
file_count="$(find "$root" -xdev -type f | wc -l)"
log "tree: $file_count files, $file_bytes bytes"

rm -f "$part.tmp"
truncate -s "$part_bytes" "$part.tmp"
log "mke2fs -t ext4 -d (partition $part_bytes bytes)"
mke2fs -q -F -t ext4 -b 4096 -L rootfs -U "$fs_uuid" -d "$root" "$part.tmp"

# A private key that was deleted: debugfs rm frees its inode and blocks but,
# like the kernel, leaves the data in the now-unallocated blocks.
deleted_path="$(sed -n 's/^#deleted\t//p' "$tsv.partial")"
blocks="$(debugfs -R "blocks $deleted_path" "$part.tmp" 2>/dev/null)"
first_block="$(awk '{print $1}' <<<"$blocks")"
[[ "$first_block" =~ ^[0-9]+$ ]] || die "no blocks for $deleted_path"
debugfs -w -R "rm $deleted_path" "$part.tmp" >/dev/null 2>&1
debugfs -R "stat $deleted_path" "$part.tmp" 2>&1 | grep -q 'File not found' ||
    die "debugfs rm $deleted_path did not remove it"
e2fsck -fn "$part.tmp" >"$work/e2fsck.log" 2>&1 ||
    { cat "$work/e2fsck.log" >&2; die "e2fsck -fn reports problems on the partition"; }
deleted_offset=$((part_start_bytes + first_block * 4096))

rm -f "$out.tmp"
truncate -s "$disk_bytes" "$out.tmp"
sfdisk -q "$out.tmp" <<EOF
label: dos
label-id: 0x5a4d4b31
unit: sectors

start=$((part_start_bytes / 512)), size=$((part_bytes / 512)), type=83, bootable
EOF
dd if="$part.tmp" of="$out.tmp" bs=4M seek="$part_start_bytes" oflag=seek_bytes conv=sparse,notrunc status=none

# secrets.tsv: the deleted key's row gets its image offset; drop the marker.
{
    grep -v '^#deleted' "$tsv.partial" |
        awk -F'\t' -v OFS='\t' -v off="$deleted_offset" '$1 == "unallocated" { $3 = off } { print }'
} >"$tsv"
rm -f "$tsv.partial"

alloc_bytes="$(du -B1 "$out.tmp" | cut -f1)"
{
    printf 'disk_bytes\t%s\n' "$disk_bytes"
    printf 'disk_allocated_bytes\t%s\n' "$alloc_bytes"
    printf 'partition_start_bytes\t%s\n' "$part_start_bytes"
    printf 'partition_bytes\t%s\n' "$part_bytes"
    printf 'file_bytes\t%s\n' "$file_bytes"
    printf 'file_count\t%s\n' "$file_count"
    printf 'fs_uuid\t%s\n' "$fs_uuid"
    printf 'kernel\t%s\n' "$kver"
    printf 'mirror\t%s\n' "$mirror"
    printf 'packages\t%s\n' "$(chroot "$root" dpkg-query -W -f='.\n' | wc -l)"
    printf 'planted_secrets\t%s\n' "$(($(wc -l <"$tsv") - 1))"
} >"$stats"

mv -f "$part.tmp" "$part"
mv -f "$out.tmp" "$out"
echo "$want_stamp" >"$stamp"
rm -rf "$work"
log "wrote $out, $part, $tsv, $stats"
cat "$stats" >&2
