//! VHDX containers: the two headers and their CRC-32C, the log check, the
//! region tables, the metadata items and the BAT with its block states,
//! through `container::resolve`. The input is a prefix of the file (the
//! metadata and BAT regions of the seeds end before 4 MiB); the rest reads
//! as zeros up to 16 MiB, where the seeds' data blocks are.
#![no_main]

use libfuzzer_sys::fuzz_target;
use snapaudit::container::Format;

fuzz_target!(|data: &[u8]| {
    snapaudit_fuzz::exercise_padded_container(data, "container_vhdx", Format::Vhdx, 16 << 20);
});
