//! `/etc/os-release` and the legacy `/etc/*-release` files.
#![no_main]

use libfuzzer_sys::fuzz_target;
use snapaudit::system::os_release;

fuzz_target!(|data: &[u8]| {
    let r = os_release::parse(data);
    let _ = (r.get("ID"), r.is_like("rhel"));
    for name in [
        "redhat-release",
        "centos-release",
        "debian_version",
        "SuSE-release",
        "alpine-release",
    ] {
        let _ = os_release::parse_legacy_release(name, data);
    }
});
