//! Sensitive-data scanner: the `secret.*` content rules of RULES.md, custom
//! rules in gitleaks' TOML format, and the engine that runs them over bytes.
//!
//! ```text
//! RuleSet::builtin() ─┐
//!                     ├─ merge ─ Scanner::new ─┬─ scan(buffer)            whole file / mapped run
//! from_gitleaks_toml ─┘                        ├─ scan_range(chunk, range) chunked callers
//!                                              └─ StreamScan::push/finish  pieces (extents, free runs)
//! ```
//!
//! The engine looks for every rule's anchors (keywords or literals) with one
//! Aho-Corasick automaton and runs a rule's regex only in a window of its
//! maximum match length around each hit (see [`Scanner`] and the `engine`
//! module docs); regexes have byte semantics like gitleaks
//! (`unicode(false)`). A [`Match`] carries offsets and redacted evidence,
//! never the secret: see [`redact`].
//!
//! On top of the engine, [`scan_disk`] scans a whole disk image: every
//! regular file of every ext2/3/4 filesystem (file mode, `files`), dpkg's
//! record of unchanged package files (`vendor`), credentials files by path
//! (`credentials`), and the free blocks, unpartitioned space and unreadable
//! partitions (raw mode, `unallocated`); see the `run` module docs.
//! [`scan_report`] makes the data-disk report of `snapaudit scan`.

mod builtin;
mod checks;
mod credentials;
mod engine;
mod files;
mod findings;
mod gitleaks;
pub mod md5sums;
mod pattern;
mod prefilter;
pub mod rpmdb;
mod rule;
mod run;
mod sparse;
mod stream;
mod text;
mod unallocated;
mod vendor;

pub use engine::{Match, Scanner, Scratch};
pub use md5sums::{Md5sumsEntry, Md5sumsLineError, parse_md5sums};
pub use rule::{Allowlist, Check, Keyword, RegexTarget, Rule, RuleSet};
pub use run::{
    MAX_HITS_PER_FILE, ScanOptions, ScanOutcome, ScanProgress, UNIT_BYTES, scan_disk, scan_image,
    scan_report,
};
pub use stream::{DEFAULT_CHUNK_BYTES, StreamScan};
pub use text::{LineCounter, count_newlines, is_placeholder, line_of, redact, shannon_entropy};

#[cfg(test)]
mod tests;
