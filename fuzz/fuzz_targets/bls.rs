//! A BLS entry (`/boot/loader/entries/NAME.conf`): file name ‖ contents
//! (split at a NUL line), the GRUB conversion with `$var` expansion, and
//! the sort GRUB applies (`vercmp`).
#![no_main]

use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;
use snapaudit::system::grub::bls;

fuzz_target!(|data: &[u8]| {
    let (name, body) = snapaudit_fuzz::split2(data);
    let name = String::from_utf8_lossy(name);
    let entry = bls::parse_entry(&name, body);
    let _ = bls::grub_accepts_file_name(&name);
    let mut vars = BTreeMap::new();
    vars.insert(
        "kernelopts".to_string(),
        String::from_utf8_lossy(body).into_owned(),
    );
    vars.insert(
        "tuned_params".to_string(),
        "$kernelopts $tuned_params".to_string(),
    );
    let _ = entry.expanded_options(&vars);
    let _ = entry.to_boot_entry(&vars).map(|b| b.kernel_cmdline());
    let other = bls::parse_entry("b.conf", name.as_bytes());
    let _ = bls::sort_for_grub(&[entry.clone(), other]);
    if let (Some(a), Some(b)) = (&entry.version, &entry.title) {
        let _ = bls::vercmp(a, b);
    }
    let _ = bls::vercmp(&name, &String::from_utf8_lossy(body));
});
