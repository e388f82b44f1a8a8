# shellcheck shell=bash
# Shared helpers of build-fixtures.sh and sample/build-sample.sh.
#
# Everything is built from plain files: no mount, no loop device, no
# network. Determinism comes from fixed UUIDs/GUIDs/serials derived from the
# fixture name (mkuuid), E2FSPROGS_FAKE_TIME, hash_seed, our own mke2fs.conf
# (the host's /etc/mke2fs.conf differs between releases), LC_ALL=C (mke2fs -d
# sorts directory entries with strcoll) and a debugfs pass that resets the
# atime/ctime mke2fs -d copies from the host.

TESTDATA=${TESTDATA:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)}
export LC_ALL=C TZ=UTC
export PATH=$PATH:/usr/sbin:/sbin
export MKE2FS_CONFIG=$TESTDATA/mke2fs.conf
export E2FSPROGS_FAKE_TIME=${RF_EPOCH:-1696161600}
# e2fsck's own clock (s_lastcheck when it writes).
export E2FSCK_TIME=$E2FSPROGS_FAKE_TIME
# mkfs.btrfs/xfs and friends honour this where they can.
export SOURCE_DATE_EPOCH=$E2FSPROGS_FAKE_TIME

# shellcheck source=rootfs.sh
. "$TESTDATA/rootfs.sh"

# shellcheck disable=SC2034 # used by the scripts that source this file
MiB=1048576

die() {
    printf 'build-fixtures: %s\n' "$*" >&2
    exit 1
}

# need_tools: fail early, naming the Debian package of every missing tool.
need_tools() {
    local missing=() pair cmd pkg
    for pair in "$@"; do
        cmd=${pair%%:*} pkg=${pair#*:}
        command -v "$cmd" >/dev/null 2>&1 || missing+=("$cmd (Debian package: $pkg)")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        printf 'build-fixtures: missing tools:\n' >&2
        printf '  %s\n' "${missing[@]}" >&2
        printf 'install them with: apt-get install -y %s\n' \
            "$(printf '%s\n' "$@" | while IFS=: read -r c p; do command -v "$c" >/dev/null 2>&1 || echo "$p"; done | sort -u | tr '\n' ' ')" >&2
        exit 1
    fi
}

# mkuuid KEY: a version-4-shaped UUID derived from KEY (stable across runs).
mkuuid() {
    local h
    h=$(printf '%s' "$1" | md5sum)
    printf '%s-%s-4%s-8%s-%s\n' "${h:0:8}" "${h:8:4}" "${h:13:3}" "${h:17:3}" "${h:20:12}"
}

# mkserial KEY: FAT volume serial "ABCD-1234" (blkid's UUID for vfat).
mkserial() {
    local h
    h=$(printf '%s' "$1" | md5sum | tr a-f A-F)
    printf '%s-%s\n' "${h:0:4}" "${h:4:4}"
}

# mkdiskid KEY: MBR disk signature 0x........
mkdiskid() {
    local h
    h=$(printf '%s' "$1" | md5sum)
    printf '0x%s\n' "${h:0:8}"
}

# /usr/bin/python3 first: a pyenv/asdf shim costs ~0.4 s per call.
if [ -x /usr/bin/python3 ]; then PYTHON=/usr/bin/python3; else PYTHON=python3; fi
fixtool() {
    "$PYTHON" -S "$TESTDATA/fixtool.py" "$@"
}

# mkext4 IMG OFFSET_BYTES SIZE_BYTES UUID LABEL TREE [mke2fs args...]
# Knobs: MK_TYPE (ext4|ext3|ext2), MK_BS (block size), MK_EXT (extra -E
# options). The filesystem is written in place at OFFSET inside IMG.
mkext4() {
    local img=$1 off=$2 size=$3 uuid=$4 label=$5 tree=$6
    shift 6
    local bs=${MK_BS:-4096}
    local ext="hash_seed=$uuid,offset=$off${MK_EXT:+,$MK_EXT}"
    local args=(-q -F -t "${MK_TYPE:-ext4}" -b "$bs" -U "$uuid" -E "$ext")
    [ -n "$label" ] && args+=(-L "$label")
    [ -n "$tree" ] && args+=(-d "$tree")
    # -T default: without it mke2fs picks the "small"/"floppy" usage types
    # by size; our mke2fs.conf keeps one set of defaults for every size.
    local log
    if ! log=$(mke2fs "${args[@]}" -T default "$@" "$img" $((size / bs)) 2>&1); then
        printf '%s\n' "$log" >&2
        die "mke2fs failed on $img"
    fi
}

# dbg DEVSPEC: run debugfs -w with commands from stdin; fail on any error
# line (debugfs itself always exits 0).
dbg() {
    local out
    out=$(debugfs -w -f - "$1" 2>&1 >/dev/null | grep -v '^debugfs [0-9.]* (' || true)
    if [ -n "$out" ]; then
        printf 'debugfs on %s:\n%s\n' "$1" "$out" >&2
        return 1
    fi
}

# dbg_ro DEVSPEC CMD: one read-only debugfs command, stdout only.
dbg_ro() {
    debugfs -R "$2" "$1" 2>/dev/null
}

# fs_fixup DEVSPEC TREE [OWNERS]: make inode times independent of the host
# (mke2fs -d copies atime/ctime from the source files; debugfs write uses
# the host file's times) and apply recorded ownership, so the build needs
# neither root nor a fixed clock. Inodes are addressed by number (one `ls -p`
# per directory first): path lookups in a 10 000-entry directory would make
# this quadratic.
fs_fixup() {
    local dev=$1 tree=$2 owners=${3:-} tmp
    tmp=$(mktemp -d)
    (cd "$tree" && find . -print) | sed 's|^\.||; s|^$|/|' | LC_ALL=C sort >"$tmp/paths"
    if grep -q '[[:space:]"]' "$tmp/paths"; then
        rm -rf "$tmp"
        die "unsupported character in a fixture path under $tree"
    fi
    (cd "$tree" && find . -type d -print) | sed 's|^\.||; s|^$|/|; s|^|ls -p |' |
        debugfs -f - "$dev" 2>/dev/null >"$tmp/listing"
    # "debugfs: ls -p DIR" then "/INO/MODE/UID/GID/NAME/SIZE/" lines.
    awk '
        /^debugfs: ls -p / { dir = substr($0, 16); if (dir == "/") dir = ""; next }
        /^\// { n = split($0, f, "/"); if (f[6] == "." || f[6] == "..") next
                print dir "/" f[6] "\t" f[2] }
    ' "$tmp/listing" >"$tmp/inodes"
    printf '/\t2\n' >>"$tmp/inodes"
    : >"$tmp/owners"
    [ -n "$owners" ] && [ -s "$owners" ] && cp "$owners" "$tmp/owners"
    awk -v t="$RF_EPOCH" -v tmp="$tmp" '
        FILENAME == tmp "/inodes" { ino[$1] = $2; next }
        FILENAME == tmp "/paths" {
            if (!($0 in ino)) { print "fs_fixup: " $0 " is in the tree but not in the filesystem" > "/dev/stderr"; bad = 1; next }
            i = ino[$0]; if (i in done) next; done[i] = 1
            printf "sif <%s> atime @%s\nsif <%s> ctime @%s\nsif <%s> mtime @%s\n", i, t, i, t, i, t
            next
        }
        {   # owners: PATH UID GID (paths a recipe deleted are skipped)
            if (!($1 in ino)) next
            printf "sif <%s> uid %s\nsif <%s> gid %s\n", ino[$1], $2, ino[$1], $3
        }
        END { exit bad }
    ' "$tmp/inodes" "$tmp/paths" "$tmp/owners" >"$tmp/cmds" || {
        rm -rf "$tmp"
        die "fs_fixup: tree and filesystem differ ($dev)"
    }
    dbg "$dev" <"$tmp/cmds"
    rm -rf "$tmp"
}

# place FILE IMG OFFSET_BYTES: copy a filesystem built in its own file into
# the disk image, keeping holes.
place() {
    dd if="$1" of="$2" bs=1M oflag=seek_bytes seek="$3" conv=notrunc,sparse status=none
}

# rm_files DEVSPEC PATH...: debugfs rm, then reset the clock-dependent
# fields of the freed inodes (debugfs rm takes ctime from the host clock and
# a freed inode keeps the times mke2fs copied from the host).
rm_files() {
    local dev=$1 inos p i
    shift
    inos=$(for p in "$@"; do printf 'stat "%s"\n' "$p"; done | debugfs -f - "$dev" 2>/dev/null |
        sed -n 's/^Inode: \([0-9]*\) .*/\1/p')
    [ "$(wc -w <<<"$inos")" = $# ] || die "rm_files: cannot stat all of $*"
    {
        for p in "$@"; do printf 'rm "%s"\n' "$p"; done
        for i in $inos; do
            printf 'sif <%s> %s @%s\n' "$i" atime "$RF_EPOCH" "$i" ctime "$RF_EPOCH" \
                "$i" mtime "$RF_EPOCH" "$i" dtime "$RF_EPOCH"
        done
    } | dbg "$dev"
}

# put_be IMG OFFSET_BYTES VALUE NBYTES: write VALUE big-endian in place.
put_be() {
    local hex esc="" i
    hex=$(printf "%0$(($4 * 2))x" "$3")
    for ((i = 0; i < $4 * 2; i += 2)); do esc+="\\x${hex:i:2}"; done
    # shellcheck disable=SC2059
    printf "$esc" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}

# inode_flags DEVSPEC PATH: current i_flags (hex) of PATH.
inode_flags() {
    dbg_ro "$1" "stat \"$2\"" | sed -n 's/.*Flags: \(0x[0-9a-f]*\).*/\1/p' | sed -n 1p
}

# set_flags DEVSPEC PATH BITS: OR BITS into i_flags (keeps EXTENTS etc.).
set_flags() {
    local cur
    cur=$(inode_flags "$1" "$2")
    [ -n "$cur" ] || die "cannot read flags of $2"
    printf 'sif "%s" flags 0x%x\n' "$2" $((cur | $3)) | dbg "$1"
}

# block_of DEVSPEC PATH LOGICAL: physical block of a file block.
block_of() {
    dbg_ro "$1" "bmap \"$2\" $3" | tr -d '[:space:]'
}

# sb_field DEVSPEC NAME: a dumpe2fs -h value ("Free blocks", "Block count").
sb_field() {
    dumpe2fs -h "$1" 2>/dev/null | sed -n "s/^$2:[[:space:]]*//p"
}
