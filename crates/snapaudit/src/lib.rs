//! snapaudit: audit and sanitize VM disk snapshots offline.
//!
//! The data flows one way, one layer over the next:
//! `path → Image (source + container) → PartitionTable → volume (partition | LV)
//! → ext4 Volume (journal replayed) → SystemFacts → rules(Profile) → Report`,
//! with [`scan`] adding findings from the volumes' files, free blocks, journals
//! and raw regions, and [`sanitize`] turning a report into a plan that it
//! applies to a copy, in the output format asked for.
//!
//! The storage stack under the audit:
//! - [`image`] opens the input once: a raw file is memory-mapped; a
//!   compressed input is expanded into an unlinked sparse temporary file;
//!   a container is parsed by [`container`] into a map of its virtual disk
//!   (which virtual bytes lie where in which host file, which are
//!   compressed, which read as zeros) and that map is stitched into one
//!   read-only view, host runs mapped in place. [`image::Image::derive`]
//!   builds further views over it (the segments of a logical volume, a
//!   journal replayed over a filesystem) the same way.
//! - [`partition`] reads the table; [`volume`] finds LVM2 volume groups and
//!   turns each logical volume into a volume like a partition.
//! - [`ext4::Volume`] is a window of such a view; a filesystem whose
//!   journal needs recovery is replayed in memory before anything reads it.
//!
//! Everything above the image reads `&[u8]` and never learns whether the
//! bytes came from a raw file, a qcow2 cluster or a VMDK grain.
//!
//! Nothing here writes to the input image; every offset and length read from
//! disk is checked, and a corrupt image yields an [`Error`] or a finding,
//! never a panic.

pub mod container;
pub mod error;
pub mod ext4;
pub mod image;
pub mod partition;
pub mod report;
pub mod rules;
pub mod sanitize;
pub mod scan;
pub mod system;
mod util;
pub mod volume;

pub use error::{Error, Result};
