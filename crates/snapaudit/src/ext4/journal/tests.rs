//! Journals built byte by byte from Documentation/filesystems/ext4/journal.rst,
//! for the variants no tool writes on demand (checksum v1, async commit)
//! and for hostile logs. The e2fsprogs-written variants are tested against
//! e2fsck in tests/tests/journal.rs.

use super::block::{FLAG_ESCAPE, FLAG_LAST_TAG, FLAG_SAME_UUID, crc32_be, jbd2_chksum};
use super::superblock::*;
use super::*;

const BS: usize = 1024;
const UUID: [u8; 16] = *b"0123456789abcdef";

/// A journal being written: its superblock fields and its blocks.
struct Builder {
    compat: u32,
    incompat: u32,
    maxlen: u32,
    first: u32,
    sequence: u32,
    start: u32,
    blocks: Vec<Vec<u8>>,
    /// Where the next log block goes.
    at: u32,
    /// Checksum v1 of the transaction being written.
    crc: u32,
}

/// One transaction's content: (fs block, data) copies and revoked blocks.
#[derive(Default)]
struct Tx {
    copies: Vec<(u64, Vec<u8>)>,
    revokes: Vec<u64>,
    /// Leave the commit block out (an interrupted transaction).
    no_commit: bool,
    /// Write a wrong checksum in the commit block.
    bad_commit: bool,
    commit_sec: u64,
}

fn block_of(byte: u8) -> Vec<u8> {
    vec![byte; BS]
}

impl Builder {
    fn new(compat: u32, incompat: u32, maxlen: u32, start: u32, sequence: u32) -> Builder {
        Builder {
            compat,
            incompat,
            maxlen,
            first: 1,
            sequence,
            start,
            blocks: vec![vec![0u8; BS]; maxlen as usize],
            at: start,
            crc: !0,
        }
    }

    fn seed(&self) -> u32 {
        jbd2_chksum(!0, &UUID)
    }

    fn csum23(&self) -> bool {
        self.incompat & (INCOMPAT_CSUM_V2 | INCOMPAT_CSUM_V3) != 0
    }

    fn superblock(&self) -> Vec<u8> {
        let mut b = header(4, 0);
        b.resize(BS, 0);
        let put =
            |b: &mut Vec<u8>, off: usize, v: u32| b[off..off + 4].copy_from_slice(&v.to_be_bytes());
        put(&mut b, 0xC, BS as u32);
        put(&mut b, 0x10, self.maxlen);
        put(&mut b, 0x14, self.first);
        put(&mut b, 0x18, self.sequence);
        put(&mut b, 0x1C, self.start);
        put(&mut b, 0x24, self.compat);
        put(&mut b, 0x28, self.incompat);
        b[0x30..0x40].copy_from_slice(&UUID);
        if self.csum23() {
            b[0x50] = 4;
            let c = superblock_checksum(&b).unwrap();
            put(&mut b, 0xFC, c);
        }
        b
    }

    /// Place `b` at the next log block (wrapping), feeding checksum v1.
    fn push(&mut self, b: Vec<u8>) -> u32 {
        let n = self.at;
        self.crc = crc32_be(self.crc, &b);
        self.blocks[n as usize] = b;
        self.at += 1;
        if self.at >= self.maxlen {
            self.at = self.first;
        }
        n
    }

    fn tx(&mut self, seq: u32, tx: Tx) {
        self.crc = !0;
        let jsb = JournalSuperblock {
            s_feature_compat: self.compat,
            s_feature_incompat: self.incompat,
            ..self.jsb_fields()
        };
        let tag_bytes = jsb.tag_bytes();
        if !tx.copies.is_empty() {
            let mut d = header(1, seq);
            for (i, (blocknr, data)) in tx.copies.iter().enumerate() {
                let mut flags = if i == 0 { 0 } else { FLAG_SAME_UUID };
                if i + 1 == tx.copies.len() {
                    flags |= FLAG_LAST_TAG;
                }
                let mut data = data.clone();
                if data[..4] == JBD2_MAGIC_NUMBER.to_be_bytes() {
                    flags |= FLAG_ESCAPE;
                    data[..4].fill(0);
                }
                let csum = jbd2_chksum(jbd2_chksum(self.seed(), &seq.to_be_bytes()), &data);
                let mut tag = vec![0u8; tag_bytes];
                tag[0..4].copy_from_slice(&(*blocknr as u32).to_be_bytes());
                if tag_bytes == 16 {
                    tag[4..8].copy_from_slice(&u32::from(flags).to_be_bytes());
                    tag[12..16].copy_from_slice(&csum.to_be_bytes());
                } else {
                    tag[4..6].copy_from_slice(&(csum as u16).to_be_bytes());
                    tag[6..8].copy_from_slice(&flags.to_be_bytes());
                }
                if tag_bytes >= 12 && jsb.is_64bit() {
                    tag[8..12].copy_from_slice(&((*blocknr >> 32) as u32).to_be_bytes());
                }
                d.extend_from_slice(&tag);
                if i == 0 {
                    d.extend_from_slice(&UUID);
                }
            }
            d.resize(BS, 0);
            self.tail(&mut d);
            self.push(d);
            for (_, data) in &tx.copies {
                let mut data = data.clone();
                if data[..4] == JBD2_MAGIC_NUMBER.to_be_bytes() {
                    data[..4].fill(0);
                }
                self.push(data);
            }
        }
        if !tx.revokes.is_empty() {
            let mut r = header(5, seq);
            r.extend_from_slice(&[0; 4]);
            for &b in &tx.revokes {
                if jsb.is_64bit() {
                    r.extend_from_slice(&b.to_be_bytes());
                } else {
                    r.extend_from_slice(&(b as u32).to_be_bytes());
                }
            }
            let count = r.len() as u32;
            r[12..16].copy_from_slice(&count.to_be_bytes());
            r.resize(BS, 0);
            self.tail(&mut r);
            let crc = self.crc;
            self.push(r);
            // Revoke blocks are not part of the v1 checksum.
            self.crc = crc;
        }
        if tx.no_commit {
            return;
        }
        let mut c = header(2, seq);
        c.resize(BS, 0);
        c[0x30..0x38].copy_from_slice(&tx.commit_sec.to_be_bytes());
        if self.compat & COMPAT_CHECKSUM != 0 {
            c[0xC] = 1;
            c[0xD] = 4;
            let crc = if tx.bad_commit { !self.crc } else { self.crc };
            c[0x10..0x14].copy_from_slice(&crc.to_be_bytes());
        } else if self.csum23() {
            let crc = jbd2_chksum(self.seed(), &c);
            let crc = if tx.bad_commit { !crc } else { crc };
            c[0x10..0x14].copy_from_slice(&crc.to_be_bytes());
        }
        let crc = self.crc;
        self.push(c);
        self.crc = crc;
    }

    fn jsb_fields(&self) -> JournalSuperblock {
        JournalSuperblock {
            version: 2,
            s_blocksize: BS as u32,
            s_maxlen: self.maxlen,
            s_first: self.first,
            s_sequence: self.sequence,
            s_start: self.start,
            s_errno: 0,
            s_feature_compat: self.compat,
            s_feature_incompat: self.incompat,
            s_feature_ro_compat: 0,
            s_uuid: UUID,
            s_checksum_type: 4,
            s_checksum: 0,
        }
    }

    fn tail(&self, b: &mut [u8]) {
        if self.csum23() {
            let n = b.len() - 4;
            b[n..].fill(0);
            let crc = jbd2_chksum(self.seed(), b);
            b[n..].copy_from_slice(&crc.to_be_bytes());
        }
    }

    fn bytes(&self) -> Vec<u8> {
        let mut out = self.superblock();
        for b in &self.blocks[1..] {
            out.extend_from_slice(b);
        }
        out
    }

    fn replay(&self, fs_blocks: u64) -> Result<Replay> {
        let bytes = self.bytes();
        let jsb = JournalSuperblock::parse(&bytes[..BS], 0, BS as u32, u64::from(self.maxlen))?;
        let log = ContiguousLog {
            bytes: &bytes,
            block_bytes: BS as u32,
        };
        replay(&log, &jsb, fs_blocks)
    }

    /// The replayed bytes of fs block `b`, if replayed.
    fn replayed(&self, r: &Replay, b: u64) -> Option<Vec<u8>> {
        let copy = r.blocks.get(&b)?;
        let bytes = self.bytes();
        let at = copy.journal_block as usize * BS;
        let mut out = bytes[at..at + BS].to_vec();
        replay::unescape(&mut out, *copy);
        Some(out)
    }
}

fn header(blocktype: u32, seq: u32) -> Vec<u8> {
    let mut h = JBD2_MAGIC_NUMBER.to_be_bytes().to_vec();
    h.extend_from_slice(&blocktype.to_be_bytes());
    h.extend_from_slice(&seq.to_be_bytes());
    h
}

fn copies(list: &[(u64, u8)]) -> Vec<(u64, Vec<u8>)> {
    list.iter().map(|&(b, v)| (b, block_of(v))).collect()
}

/// Every variant of tags and checksums replays the same history: the
/// newest copy wins, a revoke cancels older copies but not newer ones.
#[test]
fn every_tag_and_checksum_variant_replays_the_same_history() {
    let variants = [
        (0, 0),
        (0, INCOMPAT_REVOKE),
        (0, INCOMPAT_REVOKE | INCOMPAT_64BIT),
        (COMPAT_CHECKSUM, INCOMPAT_REVOKE),
        (COMPAT_CHECKSUM, INCOMPAT_REVOKE | INCOMPAT_ASYNC_COMMIT),
        (0, INCOMPAT_REVOKE | INCOMPAT_CSUM_V2),
        (0, INCOMPAT_REVOKE | INCOMPAT_CSUM_V2 | INCOMPAT_64BIT),
        (0, INCOMPAT_REVOKE | INCOMPAT_CSUM_V3),
        (0, INCOMPAT_REVOKE | INCOMPAT_CSUM_V3 | INCOMPAT_64BIT),
    ];
    for (compat, incompat) in variants {
        let mut j = Builder::new(compat, incompat, 64, 5, 100);
        j.tx(
            100,
            Tx {
                copies: copies(&[(10, 1), (11, 1), (12, 1)]),
                commit_sec: 1,
                ..Tx::default()
            },
        );
        j.tx(
            101,
            Tx {
                copies: copies(&[(10, 2)]),
                revokes: vec![11],
                commit_sec: 2,
                ..Tx::default()
            },
        );
        j.tx(
            102,
            Tx {
                copies: copies(&[(11, 3)]),
                commit_sec: 3,
                ..Tx::default()
            },
        );
        let r = j
            .replay(1000)
            .unwrap_or_else(|e| panic!("{compat:#x}/{incompat:#x}: {e}"));
        let what = format!("compat {compat:#x} incompat {incompat:#x}");
        assert_eq!(
            (r.start_sequence, r.end_sequence, r.transactions),
            (100, 103, 3),
            "{what}"
        );
        assert_eq!(j.replayed(&r, 10), Some(block_of(2)), "{what}");
        assert_eq!(j.replayed(&r, 11), Some(block_of(3)), "{what}");
        assert_eq!(j.replayed(&r, 12), Some(block_of(1)), "{what}");
        assert_eq!(r.blocks.len(), 3, "{what}");
        assert_eq!(
            (r.blocks_replayed, r.revoke_hits, r.revokes),
            (4, 1, 1),
            "{what}"
        );
    }
}

#[test]
fn a_64bit_journal_carries_block_numbers_past_2_pow_32() {
    let mut j = Builder::new(
        0,
        INCOMPAT_REVOKE | INCOMPAT_64BIT | INCOMPAT_CSUM_V3,
        32,
        1,
        7,
    );
    let big = (5u64 << 32) | 9;
    j.tx(
        7,
        Tx {
            copies: copies(&[(big, 4), (big + 1, 4)]),
            ..Tx::default()
        },
    );
    j.tx(
        8,
        Tx {
            revokes: vec![big + 1],
            ..Tx::default()
        },
    );
    let r = j.replay(big + 10).unwrap();
    assert_eq!(r.blocks.keys().copied().collect::<Vec<_>>(), vec![big]);
    // The same journal over a smaller filesystem names a block past its end.
    let e = j.replay(1000).unwrap_err().to_string();
    assert!(e.contains("past the filesystem's 1000 blocks"), "{e}");
}

#[test]
fn an_escaped_block_gets_its_magic_back() {
    for incompat in [0, INCOMPAT_CSUM_V3] {
        let mut j = Builder::new(0, incompat, 16, 1, 1);
        let mut data = block_of(7);
        data[..4].copy_from_slice(&JBD2_MAGIC_NUMBER.to_be_bytes());
        j.tx(
            1,
            Tx {
                copies: vec![(3, data.clone())],
                ..Tx::default()
            },
        );
        let r = j.replay(100).unwrap();
        assert!(r.blocks[&3].escaped);
        assert_eq!(j.replayed(&r, 3), Some(data));
    }
}

#[test]
fn a_log_that_wraps_around_is_followed_past_its_last_block() {
    for incompat in [0, INCOMPAT_CSUM_V3] {
        // Log blocks 1..12; the log starts at 9, so the second
        // transaction's blocks continue at block 1.
        let mut j = Builder::new(0, incompat, 12, 9, 50);
        j.tx(
            50,
            Tx {
                copies: copies(&[(20, 1)]),
                ..Tx::default()
            },
        );
        j.tx(
            51,
            Tx {
                copies: copies(&[(21, 2), (22, 2)]),
                ..Tx::default()
            },
        );
        let r = j.replay(100).unwrap();
        assert_eq!(r.transactions, 2);
        assert!(r.blocks[&21].journal_block < 9, "{:?}", r.blocks);
        assert_eq!(j.replayed(&r, 22), Some(block_of(2)));
    }
}

#[test]
fn replay_stops_at_the_first_uncommitted_transaction() {
    let mut j = Builder::new(0, INCOMPAT_CSUM_V3, 32, 1, 1);
    j.tx(
        1,
        Tx {
            copies: copies(&[(5, 1)]),
            ..Tx::default()
        },
    );
    j.tx(
        2,
        Tx {
            copies: copies(&[(5, 2), (6, 2)]),
            no_commit: true,
            ..Tx::default()
        },
    );
    // A committed transaction after the gap is not reached.
    j.tx(
        3,
        Tx {
            copies: copies(&[(7, 3)]),
            ..Tx::default()
        },
    );
    let r = j.replay(100).unwrap();
    assert_eq!((r.transactions, r.end_sequence), (1, 2));
    assert_eq!(j.replayed(&r, 5), Some(block_of(1)));
    assert!(!r.blocks.contains_key(&6) && !r.blocks.contains_key(&7));
    assert_eq!(r.failed_commit, None);
}

/// A commit block whose checksum fails ends the log before its
/// transaction; without async commit e2fsck calls it corrupt.
#[test]
fn a_bad_commit_checksum_ends_the_log_and_is_corrupt_unless_async() {
    for (compat, incompat, failed) in [
        (COMPAT_CHECKSUM, 0, Some(2)),
        (COMPAT_CHECKSUM, INCOMPAT_ASYNC_COMMIT, None),
        (0, INCOMPAT_CSUM_V2, Some(2)),
        (0, INCOMPAT_CSUM_V3 | INCOMPAT_ASYNC_COMMIT, None),
    ] {
        let mut j = Builder::new(compat, incompat, 32, 1, 1);
        j.tx(
            1,
            Tx {
                copies: copies(&[(5, 1)]),
                commit_sec: 10,
                ..Tx::default()
            },
        );
        j.tx(
            2,
            Tx {
                copies: copies(&[(5, 2)]),
                bad_commit: true,
                commit_sec: 11,
                ..Tx::default()
            },
        );
        let r = j.replay(100).unwrap();
        assert_eq!(r.transactions, 1, "{compat:#x}/{incompat:#x}");
        assert_eq!(r.failed_commit, failed, "{compat:#x}/{incompat:#x}");
        assert_eq!(j.replayed(&r, 5), Some(block_of(1)));
    }
}

#[test]
fn checksum_v1_covers_the_data_blocks() {
    let mut j = Builder::new(COMPAT_CHECKSUM, 0, 32, 1, 1);
    j.tx(
        1,
        Tx {
            copies: copies(&[(5, 1)]),
            ..Tx::default()
        },
    );
    assert_eq!(j.replay(100).unwrap().transactions, 1);
    // Flip a byte of the data block (log block 2): the commit's crc32_be no
    // longer matches.
    j.blocks[2][100] ^= 1;
    let r = j.replay(100).unwrap();
    assert_eq!((r.transactions, r.failed_commit), (0, Some(1)));
}

#[test]
fn a_corrupt_data_block_under_checksum_v3_is_an_error() {
    let mut j = Builder::new(0, INCOMPAT_CSUM_V3, 32, 1, 1);
    j.tx(
        1,
        Tx {
            copies: copies(&[(5, 1)]),
            ..Tx::default()
        },
    );
    j.blocks[2][100] ^= 1;
    let e = j.replay(100).unwrap_err().to_string();
    assert!(e.contains("fails its checksum"), "{e}");
}

#[test]
fn a_corrupt_descriptor_in_a_newer_transaction_is_an_error_a_stale_one_ends_the_log() {
    for (sec, stale) in [(5, false), (1, true)] {
        let mut j = Builder::new(0, INCOMPAT_CSUM_V3, 32, 1, 1);
        j.tx(
            1,
            Tx {
                copies: copies(&[(5, 1)]),
                commit_sec: 3,
                ..Tx::default()
            },
        );
        j.tx(
            2,
            Tx {
                copies: copies(&[(6, 2)]),
                commit_sec: sec,
                ..Tx::default()
            },
        );
        // Transaction 2's descriptor is log block 4.
        j.blocks[4][500] ^= 1;
        match j.replay(100) {
            Ok(r) => assert!(stale && r.transactions == 1, "{r:?}"),
            Err(e) => assert!(
                !stale && e.to_string().contains("fails its checksum"),
                "{e}"
            ),
        }
    }
}

#[test]
fn a_journal_claiming_more_blocks_than_its_inode_holds_is_refused() {
    let j = Builder::new(0, 0, 16, 1, 1);
    let mut sb = j.superblock();
    sb[0x10..0x14].copy_from_slice(&u32::MAX.to_be_bytes());
    let e = JournalSuperblock::parse(&sb, 0, BS as u32, 16)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("s_maxlen 4294967295 blocks, but the journal inode holds 16"),
        "{e}"
    );
}

#[test]
fn hostile_superblocks_are_refused_with_their_reason() {
    let j = Builder::new(0, INCOMPAT_CSUM_V3, 16, 1, 1);
    let cases: [(usize, u32, &str); 5] = [
        (0x0C, 4096, "differs from the filesystem's 1024-byte blocks"),
        (0x14, 0, "s_first 0 is outside the log"),
        (0x1C, 99, "s_start 99 is outside the log"),
        (0x28, 0x4000, "unknown incompatible journal features 0x4000"),
        (0xFC, 1, "checksum 0x00000001"),
    ];
    for (off, value, want) in cases {
        let mut sb = j.superblock();
        sb[off..off + 4].copy_from_slice(&value.to_be_bytes());
        if off != 0xFC {
            let c = superblock_checksum(&sb).unwrap();
            sb[0xFC..0x100].copy_from_slice(&c.to_be_bytes());
        }
        let e = JournalSuperblock::parse(&sb, 0, BS as u32, 16)
            .unwrap_err()
            .to_string();
        assert!(e.contains(want), "{want}: {e}");
    }
}

#[test]
fn tags_past_the_end_of_their_block_are_an_error() {
    let mut j = Builder::new(0, 0, 16, 1, 1);
    j.tx(
        1,
        Tx {
            copies: copies(&[(5, 1)]),
            ..Tx::default()
        },
    );
    // Rewrite the descriptor (log block 1) full of SAME_UUID tags without
    // a last-tag flag.
    let mut d = header(1, 1);
    while d.len() + 8 <= BS {
        d.extend_from_slice(&5u32.to_be_bytes());
        d.extend_from_slice(&[0, 0, 0, FLAG_SAME_UUID as u8]);
    }
    d.resize(BS, 0);
    j.blocks[1] = d;
    let e = j.replay(100).unwrap_err().to_string();
    assert!(
        e.contains("tags run past the end of the 1024-byte block"),
        "{e}"
    );
}

#[test]
fn a_revoke_table_larger_than_its_block_is_an_error() {
    let mut j = Builder::new(0, INCOMPAT_REVOKE, 16, 1, 1);
    j.tx(
        1,
        Tx {
            revokes: vec![5],
            ..Tx::default()
        },
    );
    j.blocks[1][12..16].copy_from_slice(&5000u32.to_be_bytes());
    let e = j.replay(100).unwrap_err().to_string();
    assert!(
        e.contains("r_count 5000 bytes is larger than the 1024 bytes"),
        "{e}"
    );
}

/// A transaction whose descriptors lead back around the log to its own
/// first descriptor would loop forever; the pass is bounded by the log.
#[test]
fn a_log_that_loops_onto_itself_is_an_error() {
    let mut j = Builder::new(0, 0, 5, 1, 1);
    // Log blocks 1..5: descriptor, data, descriptor, data, then block 1
    // again: the same transaction, never committed.
    j.tx(
        1,
        Tx {
            copies: copies(&[(5, 1)]),
            no_commit: true,
            ..Tx::default()
        },
    );
    j.tx(
        1,
        Tx {
            copies: copies(&[(6, 1)]),
            no_commit: true,
            ..Tx::default()
        },
    );
    let e = j.replay(100).unwrap_err().to_string();
    assert!(e.contains("run past the 4 blocks of the log"), "{e}");
    // A chain of commit blocks all around the log ends where the sequence
    // stops increasing, without error.
    let mut j = Builder::new(0, 0, 5, 1, 1);
    for seq in 1..=4 {
        j.tx(seq, Tx::default());
    }
    let r = j.replay(100).unwrap();
    assert_eq!(r.transactions, 4);
}

#[test]
fn an_empty_log_replays_nothing() {
    let j = Builder::new(0, 0, 16, 0, 9);
    let r = j.replay(100).unwrap();
    assert_eq!((r.transactions, r.end_sequence, r.blocks.len()), (0, 9, 0));
}
