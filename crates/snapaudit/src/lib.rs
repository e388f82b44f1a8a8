//! snapaudit: audit and sanitize VM disk snapshots offline.
//!
//! The data flows one way:
//! `path → Image → PartitionTable → Volume (root fs) → SystemFacts → rules(Profile) → Report`,
//! with [`scan`] adding findings from the volume's files and free blocks, and
//! [`sanitize`] turning a report into a plan that it applies to a copy.
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
