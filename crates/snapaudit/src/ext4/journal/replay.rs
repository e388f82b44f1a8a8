//! The three recovery passes of fs/jbd2/recovery.c (`do_one_pass`), the
//! same code as e2fsprogs' e2fsck/recovery.c: SCAN finds the end of the
//! log (the first transaction that is not valid and committed), REVOKE
//! collects the revoke records of the transactions before it, REPLAY
//! takes each tagged block's newest copy that no later revoke cancels.
//!
//! Nothing is written: the result maps each filesystem block to the log
//! block holding its newest committed copy.

use std::collections::{BTreeMap, HashMap};

use super::block::{self, BlockType, Commit, FLAG_ESCAPE, Header, JBD2_MAGIC_NUMBER};
use super::superblock::{INCOMPAT_ASYNC_COMMIT, JournalSuperblock};
use crate::{Error, Result};

/// The journal's blocks: block `n` of the journal (0 = its superblock),
/// wherever it lies in the volume.
pub trait Log {
    /// The bytes of journal block `n` and their volume offset.
    fn block(&self, n: u32) -> Result<(&[u8], u64)>;
}

/// The newest committed copy of one filesystem block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockCopy {
    /// The journal block holding it.
    pub journal_block: u32,
    /// `JBD2_FLAG_ESCAPE`: its first four bytes were the journal magic and
    /// are stored zeroed; restore them.
    pub escaped: bool,
}

/// What recovery found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Replay {
    /// The first transaction in the log (`s_sequence`).
    pub start_sequence: u32,
    /// The first transaction not replayed (`info.end_transaction`).
    pub end_sequence: u32,
    /// Committed transactions replayed.
    pub transactions: u32,
    /// Block copies written by the replay (`nr_replays`; a block written by
    /// several transactions counts each time).
    pub blocks_replayed: u64,
    /// Revoke records read, and block copies they cancelled.
    pub revokes: u64,
    pub revoke_hits: u64,
    /// Filesystem block → its newest committed copy.
    pub blocks: BTreeMap<u64, BlockCopy>,
    /// A commit block whose checksum failed after which no further
    /// transaction was replayed (`j_failed_commit`; e2fsck says "journal
    /// transaction N was corrupt, replay was aborted").
    pub failed_commit: Option<u32>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Pass {
    Scan,
    Revoke,
    Replay,
}

/// `tid_geq(x, y)`: sequence numbers compared modulo 2^32.
fn tid_geq(x: u32, y: u32) -> bool {
    x.wrapping_sub(y) as i32 >= 0
}

/// Recover the journal `jsb` describes over `log`, for a filesystem of
/// `fs_blocks` blocks.
pub fn replay(log: &dyn Log, jsb: &JournalSuperblock, fs_blocks: u64) -> Result<Replay> {
    let mut r = Replay {
        start_sequence: jsb.s_sequence,
        end_sequence: jsb.s_sequence,
        ..Replay::default()
    };
    if jsb.s_start == 0 {
        // An empty log: nothing to replay.
        return Ok(r);
    }
    let mut state = State {
        log,
        jsb,
        fs_blocks,
        seed: jsb.csum_seed(),
        end: None,
        revoked: HashMap::new(),
    };
    r.end_sequence = state.one_pass(Pass::Scan, &mut r)?;
    state.end = Some(r.end_sequence);
    state.one_pass(Pass::Revoke, &mut r)?;
    state.one_pass(Pass::Replay, &mut r)?;
    r.transactions = r.end_sequence.wrapping_sub(r.start_sequence);
    Ok(r)
}

struct State<'a> {
    log: &'a dyn Log,
    jsb: &'a JournalSuperblock,
    fs_blocks: u64,
    seed: u32,
    /// The first transaction not to replay, once SCAN found it.
    end: Option<u32>,
    /// Revoked block → newest transaction revoking it.
    revoked: HashMap<u64, u32>,
}

impl State<'_> {
    /// One pass over the log; returns the transaction it stopped at.
    fn one_pass(&mut self, pass: Pass, r: &mut Replay) -> Result<u32> {
        let jsb = self.jsb;
        let (first, last) = (jsb.s_first, jsb.s_maxlen);
        // The log is circular over blocks first..last.
        let wrap = |n: u32| if n >= last { n - (last - first) } else { n };
        // A pass never reads more blocks than the log holds: a valid log
        // does not overlap itself. This bounds a descriptor chain that
        // loops around the log within one transaction.
        let log_blocks = u64::from(last - first);
        let start_sequence = r.start_sequence;
        let mut steps = 0u64;
        let mut step = |n: u32| -> Result<u32> {
            // The block that ends the log is read too.
            steps += 1;
            if steps > log_blocks + 1 {
                return Err(Error::corrupt(
                    0,
                    format!(
                        "journal: the transactions from {start_sequence} run past the {log_blocks} blocks of the log (a loop)"
                    ),
                ));
            }
            Ok(wrap(n + 1))
        };
        let mut next_commit_id = jsb.s_sequence;
        let mut next_log_block = jsb.s_start;
        let mut crc32_sum = !0u32;
        let mut last_commit_time = 0u64;
        let mut need_check_commit_time = false;
        loop {
            if let Some(end) = self.end {
                if tid_geq(next_commit_id, end) {
                    break;
                }
            }
            let (b, at) = self.log.block(next_log_block)?;
            let this_block = next_log_block;
            next_log_block = step(next_log_block)?;
            let Some(h) = Header::parse(b) else { break };
            if h.h_magic != JBD2_MAGIC_NUMBER || h.h_sequence != next_commit_id {
                break;
            }
            match h.blocktype() {
                Some(BlockType::Descriptor) => {
                    if jsb.has_csum_v2or3() && !block::tail_checksum_ok(self.seed, b) {
                        if pass != Pass::Scan {
                            return Err(Error::corrupt(
                                at,
                                format!(
                                    "journal: descriptor block {this_block} of transaction {next_commit_id} fails its checksum"
                                ),
                            ));
                        }
                        // Possibly a stale block of an older log: decided
                        // at the commit block, by its time.
                        need_check_commit_time = true;
                    }
                    let tags = block::descriptor_tags(jsb, b, at)?;
                    if pass == Pass::Scan && jsb.has_csum_v1() && !need_check_commit_time {
                        crc32_sum = block::crc32_be(crc32_sum, b);
                    }
                    for tag in &tags {
                        let io_block = next_log_block;
                        next_log_block = step(next_log_block)?;
                        match pass {
                            Pass::Scan if jsb.has_csum_v1() && !need_check_commit_time => {
                                let (data, _) = self.log.block(io_block)?;
                                crc32_sum = block::crc32_be(crc32_sum, data);
                            }
                            Pass::Replay => {
                                self.replay_tag(tag, io_block, next_commit_id, h.h_sequence, r)?
                            }
                            _ => {}
                        }
                    }
                }
                Some(BlockType::Commit) => {
                    if pass == Pass::Scan {
                        let c = Commit::parse(b);
                        let commit_time = c.h_commit_sec;
                        if need_check_commit_time {
                            // A block of this transaction failed its
                            // checksum. A commit newer than the last one
                            // is this log's: corrupt. An older one is a
                            // stale transaction of a previous pass over
                            // the log: the end.
                            if commit_time >= last_commit_time {
                                return Err(Error::corrupt(
                                    at,
                                    format!(
                                        "journal: transaction {next_commit_id} holds a block that fails its checksum"
                                    ),
                                ));
                            }
                            break;
                        }
                        let ok = if jsb.has_csum_v1() {
                            c.v1_ok(crc32_sum)
                        } else if jsb.has_csum_v2or3() {
                            block::commit_checksum_ok(self.seed, b)
                        } else {
                            true
                        };
                        crc32_sum = !0;
                        if !ok {
                            if commit_time < last_commit_time {
                                // Stale: the end of the log.
                                break;
                            }
                            // An interrupted (async) or corrupt commit:
                            // the log ends before this transaction.
                            if !jsb.has_incompat(INCOMPAT_ASYNC_COMMIT) {
                                r.failed_commit = Some(next_commit_id);
                            }
                            break;
                        }
                        last_commit_time = commit_time;
                    }
                    next_commit_id = next_commit_id.wrapping_add(1);
                }
                Some(BlockType::Revoke) => {
                    if pass == Pass::Scan
                        && jsb.has_csum_v2or3()
                        && !block::tail_checksum_ok(self.seed, b)
                    {
                        need_check_commit_time = true;
                    }
                    if pass == Pass::Revoke {
                        for blocknr in block::revoke_records(jsb, b, at)? {
                            let seq = self.revoked.entry(blocknr).or_insert(next_commit_id);
                            if tid_geq(next_commit_id, *seq) {
                                *seq = next_commit_id;
                            }
                            r.revokes += 1;
                        }
                    }
                }
                // Another superblock or an unknown type: the end of the log.
                _ => break,
            }
        }
        if pass == Pass::Scan {
            return Ok(next_commit_id);
        }
        // Both later passes must stop where SCAN did; they read the same
        // blocks, so anything else is a bug or a changing disk.
        if Some(next_commit_id) != self.end {
            return Err(Error::corrupt(
                0,
                format!(
                    "journal: recovery pass ended at transaction {next_commit_id}, expected {}",
                    self.end.unwrap_or(0)
                ),
            ));
        }
        Ok(next_commit_id)
    }

    fn replay_tag(
        &self,
        tag: &block::Tag,
        io_block: u32,
        transaction: u32,
        h_sequence: u32,
        r: &mut Replay,
    ) -> Result<()> {
        let (data, at) = self.log.block(io_block)?;
        if let Some(&seq) = self.revoked.get(&tag.blocknr) {
            if tid_geq(seq, transaction) {
                r.revoke_hits += 1;
                return Ok(());
            }
        }
        if self.jsb.has_csum_v2or3()
            && !block::data_checksum_ok(self.jsb, self.seed, tag, h_sequence, data)
        {
            return Err(Error::corrupt(
                at,
                format!(
                    "journal: the copy of filesystem block {} in journal block {io_block} (transaction {transaction}) fails its checksum",
                    tag.blocknr
                ),
            ));
        }
        if tag.blocknr >= self.fs_blocks {
            return Err(Error::corrupt(
                at,
                format!(
                    "journal: transaction {transaction} holds a copy of block {}, past the filesystem's {} blocks",
                    tag.blocknr, self.fs_blocks
                ),
            ));
        }
        r.blocks.insert(
            tag.blocknr,
            BlockCopy {
                journal_block: io_block,
                escaped: tag.t_flags & FLAG_ESCAPE != 0,
            },
        );
        r.blocks_replayed += 1;
        Ok(())
    }
}

/// A journal whose blocks lie one after another in `bytes` (a journal
/// image, as the fuzzer and the unit tests build them).
#[derive(Debug)]
pub struct ContiguousLog<'a> {
    pub bytes: &'a [u8],
    pub block_bytes: u32,
}

impl Log for ContiguousLog<'_> {
    fn block(&self, n: u32) -> Result<(&[u8], u64)> {
        let bs = u64::from(self.block_bytes);
        let at = u64::from(n) * bs;
        usize::try_from(at)
            .ok()
            .and_then(|o| crate::util::slice(self.bytes, o, self.block_bytes as usize))
            .map(|b| (b, at))
            .ok_or_else(|| {
                Error::corrupt(
                    at,
                    format!(
                        "journal block {n} is past the end of the {}-byte journal",
                        self.bytes.len()
                    ),
                )
            })
    }
}

/// Restore an escaped block's magic (what `JBD2_FLAG_ESCAPE` asks).
pub(crate) fn unescape(bytes: &mut [u8], copy: BlockCopy) {
    if copy.escaped {
        if let Some(head) = bytes.get_mut(..4) {
            head.copy_from_slice(&JBD2_MAGIC_NUMBER.to_be_bytes());
        }
    }
}
