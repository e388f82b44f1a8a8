//! Facts read from the root filesystem. Every parser takes bytes, not paths,
//! so that it can be unit-tested and fuzzed on its own.

pub mod accounts;
pub mod facts;
pub mod fstab;
pub mod grub;
pub mod layout_facts;
mod lines;
pub mod os_release;
pub mod selinux;
