//! rpm's package database: the same bytes as an `rpmdb.sqlite`, as a
//! Berkeley DB `Packages` and as one header blob. Every reader must return
//! (an error or some packages) without panicking, hanging or allocating
//! beyond the input's size: page numbers, overflow chains, b-tree links,
//! counts and offsets all come from the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use snapaudit::scan::rpmdb::{DbFormat, for_each_package, parse_header};

fuzz_target!(|data: &[u8]| {
    let mut files = 0usize;
    for format in [DbFormat::Sqlite, DbFormat::Bdb] {
        let _ = for_each_package(format, data, &mut |h| {
            files += h.files.len();
            for f in &h.files {
                let _ = f.path();
            }
        });
    }
    if let Ok(h) = parse_header(data) {
        for f in &h.files {
            let _ = f.path();
        }
    }
    std::hint::black_box(files);
});
