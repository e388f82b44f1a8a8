//! A kernel command line (`linux` line arguments, `kernelopts`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use snapaudit::system::grub::cmdline;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let c = cmdline::parse(&text);
    let _ = (c.get("root"), c.get_all("console").count(), c.has("ro"));
    let _ = (c.root(), c.root_raw(), c.enforcing(), c.selinux());
});
