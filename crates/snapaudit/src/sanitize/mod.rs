//! sanitize: turn a report into a [`Plan`] and [`apply`] it to a copy of
//! the image.
//!
//! ```text
//! Report ─ Plan::from_report(&report, &image, &PlanOptions) ─ Plan ─ apply(&image, &plan, out, &ApplyOptions) ─ Outcome
//! ```
//!
//! What each finding becomes (RULES.md, "Sanitize"):
//!
//! | finding | action |
//! |---|---|
//! | `fstab.data-disk` (error) | the line's first byte becomes `#`: same length, one data block written |
//! | `hygiene.ssh-host-keys` | **delete**: a real unlink (entry, inode, blocks, bitmaps, counters, checksums), so that sshd regenerates the key on first boot; a zero-filled key would only break sshd |
//! | `hygiene.machine-id` | **truncate to 0 bytes** (see below) |
//! | `hygiene.shell-history`, `secret.credentials-file`, `hygiene.logs` with [`LogPolicy::Wipe`] | wipe: every data block zeroed, size kept |
//! | `secret.*` with a byte range in a file | redact: the matched bytes become `*`, same length |
//! | `secret.deleted` (unallocated) | covered by zeroing the free space, or zeroed on its own with [`FreeSpacePolicy::Keep`] |
//! | everything else | listed in [`Plan::not_fixable`] with the reason |
//!
//! Free space: by default every free block of every ext filesystem of the
//! disk reads as zeros in the output (what zerofree does), including the
//! blocks the plan frees.
//!
//! **Why machine-id is truncated, not overwritten.** systemd treats
//! `/etc/machine-id` as "not yet initialized" (first boot: a new ID is
//! generated and committed, `ConditionFirstBoot=` units run) only when the
//! file is empty or is exactly the 14 bytes `uninitialized\n`: its reader
//! (`id128_read_fd`) decides by length. The planted 33-byte file cannot be
//! turned into either by a same-length overwrite: `uninitialized\n` padded
//! to 33 bytes, or 33 zero bytes, are *invalid* IDs — systemd then warns,
//! still makes up a new ID, but does not treat the boot as a first boot,
//! and other readers (dbus, journald) see garbage. So the file is truncated
//! to 0 bytes: `i_size` 0, its block freed and zeroed, the inode's block
//! map emptied and checksummed — the same metadata machinery as a delete,
//! leaving exactly what `truncate -s 0` or `cloud-init clean --machine-id`
//! leave.
//!
//! **What is refused.** A filesystem whose journal needs recovery is not
//! touched at all ([`Plan::refused`]; `apply` fails): replaying the
//! journal at the next mount could write old blocks — the very data we
//! removed — back. Deletion and truncation are refused (per file, with the
//! reason) on bigalloc and quota filesystems and for hard-linked,
//! immutable or append-only files; content changes are refused for
//! immutable/append-only files. A file whose data lives in its inode
//! (`inline_data`) is changed in the inode record, whose checksum is then
//! recomputed.
//!
//! The output is deterministic: the same image and report give the same
//! bytes (deleted inodes get the superblock's last write time as `i_dtime`).
//!
//! Nothing here writes to the input image; [`apply`] writes a new file
//! (`OUT` appears only once complete), or the input itself with an explicit
//! [`WriteMode::InPlace`].

mod apply;
mod classify;
mod copy;
mod edits;
mod output;
mod plan;
mod ranges;
mod stats;
mod sys;
mod unlink;

pub use apply::{ApplyOptions, Outcome, WriteMode, apply};
pub use copy::CopyMethod;
pub use output::OutputFormat;
pub use plan::{Action, FindingRef, NotFixable, Operation, Plan, Refusal};
pub use ranges::ByteRange;
pub use stats::{FreeBlockStats, free_block_stats};

use serde::Serialize;

/// Whether log files (`hygiene.logs`) are wiped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LogPolicy {
    /// Logs are listed as not fixed (the default).
    #[default]
    Keep,
    /// Logs are wiped (`--wipe-logs`).
    Wipe,
}

/// Whether the free blocks of the filesystems are zeroed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FreeSpacePolicy {
    /// Every free block reads as zeros in the output (the default).
    #[default]
    Zero,
    /// Free blocks are copied as they are (`--no-zero-free`); only the
    /// blocks the plan frees and unallocated secrets are zeroed.
    Keep,
}

/// Options of [`Plan::from_report`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PlanOptions {
    pub logs: LogPolicy,
    pub free_space: FreeSpacePolicy,
}
