//! The rules of RULES.md, one module per rule group. Rules read facts and
//! emit findings; none depends on another's output, and a rule that cannot
//! run (no root filesystem) is explained once by `disk.root-fs` instead of a
//! cascade of false alarms.

pub mod catalogue;
mod disk;
mod profile;

pub use profile::Profile;
