//! VHD containers (fixed, dynamic, differencing): footer and dynamic
//! header checksums, the virtual size rule, the BAT, sector bitmaps and
//! parent locators, through `container::resolve`. The input is the whole
//! file (a fixed VHD's footer is its last sector).
#![no_main]

use libfuzzer_sys::fuzz_target;
use snapaudit::container::Format;

fuzz_target!(|data: &[u8]| {
    // The reader tells fixed, dynamic and differencing apart itself.
    snapaudit_fuzz::exercise_padded_container(data, "container_vhd", Format::VhdFixed, 0);
});
