//! `/etc/passwd`, `/etc/shadow`, `/etc/group`, `/etc/gshadow`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use snapaudit::system::accounts;

fuzz_target!(|data: &[u8]| {
    let _ = accounts::parse_passwd(data);
    let shadow = accounts::parse_shadow(data);
    for e in &shadow.entries {
        let _ = (e.has_usable_password(), e.hash_scheme());
        let p = &e.password;
        let _ = (p.status(), p.is_usable(), p.scheme(), p.len_bytes());
    }
    let _ = accounts::parse_group(data);
    let _ = accounts::parse_gshadow(data);
});
