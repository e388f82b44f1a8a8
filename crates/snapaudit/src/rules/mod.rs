//! The rules of RULES.md, one module per rule group. Rules read facts and
//! emit findings; none depends on another's output, and a rule that cannot
//! run (no root filesystem) is explained once by `disk.root-fs` instead of a
//! cascade of false alarms.

mod accounts;
mod boot;
pub mod catalogue;
mod check;
mod data_disk;
mod disk;
mod fs;
mod fstab;
mod hygiene;
mod ids;
mod os;
mod profile;
mod selinux;
mod system;

pub use check::{CheckOptions, ScanPolicy, check, check_with};
pub use data_disk::scan_report;
pub use ids::{DiskIds, OnDisk};
pub use profile::Profile;
