//! How long the calls the rules make take on a 2 GiB filesystem. Ignored by
//! default (it reads a 2 GiB image into memory); run with
//! `cargo test --release -p snapaudit --lib ext4::layout::tests::perf -- --ignored --nocapture`.

use std::time::Instant;

use super::fixture::{Extras, Fixture};
use crate::ext4::layout::{Follow, Layout};

#[test]
#[ignore = "reads a 2 GiB image; a timing report, not a check"]
fn perf_rule_queries_on_a_2gib_image() {
    let Some(fixture) = Fixture::build(
        "perf",
        &["-t", "ext4", "-b", "4096"],
        "2G",
        Extras {
            sparse_offset_bytes: 1 << 30,
            many_entries: 2000,
            index_dirs: true,
        },
    ) else {
        return;
    };
    let bytes = fixture.bytes();
    let started = Instant::now();
    let layout = Layout::open(&bytes).expect("open");
    let opened = started.elapsed();
    let shadow = layout
        .lookup_inode("/etc/shadow", Follow::All)
        .expect("shadow");
    let immutable = shadow.is_immutable();
    let looked_up = started.elapsed();
    let last = layout
        .lookup("/var/many/entry-with-a-longish-name-01999", Follow::All)
        .expect("last entry");
    let big_dir = started.elapsed();
    let free = layout.free_block_ranges().expect("free");
    let freed = started.elapsed();
    let ranges = layout
        .file_byte_ranges(
            &layout
                .lookup_inode("/usr/bin/big", Follow::All)
                .expect("big"),
        )
        .expect("ranges");
    let mapped = started.elapsed();
    eprintln!(
        "open {opened:?}, /etc/shadow (immutable={immutable}) {looked_up:?}, inode {last} in a 2000-entry htree {big_dir:?}, \
         {} free ranges {freed:?}, {} byte ranges {mapped:?} (cumulative)",
        free.len(),
        ranges.len()
    );
}
