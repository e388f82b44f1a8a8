//! Our JBD2 recovery (`ext4::journal`) on mutated journals: the journal
//! superblock's checks, then the scan, revoke and replay passes over a log
//! of 1 KiB blocks laid end to end.
#![no_main]

use libfuzzer_sys::fuzz_target;
use snapaudit::ext4::journal::{ContiguousLog, JournalSuperblock, replay};

/// The seed journals (fuzz/seeds.sh) are 1024 blocks of 1 KiB; inputs are
/// their prefix up to the last non-zero byte.
const BLOCK_BYTES: u32 = 1024;
const JOURNAL_BYTES: usize = 1024 * 1024;

fuzz_target!(|data: &[u8]| {
    let journal = snapaudit_fuzz::padded(data, JOURNAL_BYTES);
    let blocks = (journal.len() / BLOCK_BYTES as usize) as u64;
    let Some(raw) = journal.get(..BLOCK_BYTES as usize) else {
        return;
    };
    let Ok(jsb) = JournalSuperblock::parse(raw, 0, BLOCK_BYTES, blocks) else {
        return;
    };
    let log = ContiguousLog {
        bytes: &journal,
        block_bytes: BLOCK_BYTES,
    };
    if let Ok(r) = replay(&log, &jsb, 1 << 40) {
        // Every copy points into the log.
        assert!(r.blocks.values().all(|c| u64::from(c.journal_block) < blocks));
        assert!(r.blocks.len() as u64 <= r.blocks_replayed);
    }
});
