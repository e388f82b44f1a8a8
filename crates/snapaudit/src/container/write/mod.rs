//! Writing a raw disk into a container: qcow2 (uncompressed clusters) and
//! fixed VHD, for `sanitize -o OUT.qcow2|OUT.vhd`. The input is a sparse raw
//! file (the sanitized copy); its holes and all-zero clusters stay
//! unallocated in the container.

mod qcow2;
mod vhd;

pub use qcow2::write_qcow2;
pub use vhd::{append_vhd_footer, vhd_footer};
