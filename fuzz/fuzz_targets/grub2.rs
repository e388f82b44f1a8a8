//! GRUB 2: `grubenv` ‖ `grub.cfg` (split at a NUL line), parsed, evaluated,
//! merged with a BLS entry, and the default resolved.
#![no_main]

use libfuzzer_sys::fuzz_target;
use snapaudit::system::grub::{bls, grub2, grubenv};

fuzz_target!(|data: &[u8]| {
    let (env_bytes, cfg_bytes) = snapaudit_fuzz::split2(data);
    let env = grubenv::parse(env_bytes);
    let _ = (
        env.saved_entry(),
        env.next_entry(),
        env.kernelopts(),
        env.vars_for_grub().count(),
    );
    let _ = grubenv::parse(cfg_bytes);
    let cfg = grub2::parse_with_env(cfg_bytes, &env);
    let bls_entries = vec![bls::parse_entry("fuzz-6.1.0.conf", env_bytes)];
    let _ = cfg.uses_blscfg();
    let menu = cfg.menu_with_bls(&bls_entries);
    for entry in menu.entries() {
        let _ = entry.kernel_cmdline().root();
    }
    let _ = menu.resolve_default(env.saved_entry());
    let _ = cfg.resolve_default(&bls_entries);
    let _ = grub2::parse(cfg_bytes).resolve_default(&[]);
});
