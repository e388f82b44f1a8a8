//! Legacy GRUB `menu.lst`/`grub.conf`: entries and the default.
#![no_main]

use libfuzzer_sys::fuzz_target;
use snapaudit::system::grub::legacy;

fuzz_target!(|data: &[u8]| {
    let cfg = legacy::parse(data);
    let menu = cfg.menu();
    for entry in menu.entries() {
        let _ = entry.kernel_cmdline().root();
    }
    let _ = cfg.resolve_default(None);
    let _ = cfg.resolve_default(Some(u32::MAX));
    let _ = cfg.resolve_default(data.first().map(|b| u32::from(*b)));
});
