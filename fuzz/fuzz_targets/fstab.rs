//! `/etc/fstab` parsing, and every query the rules make of an entry.
#![no_main]

use libfuzzer_sys::fuzz_target;
use snapaudit::system::fstab::{self, KernelDevice, Source};

fuzz_target!(|data: &[u8]| {
    let parsed = fstab::parse(data);
    let _ = parsed.root_entry();
    for e in &parsed.entries {
        let _ = (
            e.target_is("/"),
            e.has_option("nofail"),
            e.option_value("x-systemd.device-timeout"),
        );
        let _ = (
            e.is_pseudo_fs(),
            e.is_network_fs(),
            e.is_bind(),
            e.is_swap(),
            e.is_optional_at_boot(),
        );
        let _ = e.fstypes().count();
        let s = &e.source;
        let _ = (
            s.value(),
            s.is_block_device(),
            s.kernel_device_name(),
            s.is_kernel_device_name(),
        );
        let _ = (
            s.other_disk_device(),
            s.matches_uuid("0a1b"),
            s.matches_partuuid("0a1b"),
        );
        let _ = s.same_as(&Source::parse(s.value()));
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = Source::parse(text);
        let _ = KernelDevice::parse(text).map(|d| d.is_first_disk());
        let _ = fstab::uuid_eq(text, "0A1B-2C3D");
    }
});
