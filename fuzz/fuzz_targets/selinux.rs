//! `/etc/selinux/config`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use snapaudit::system::selinux;

fuzz_target!(|data: &[u8]| {
    let _ = selinux::parse(data);
});
