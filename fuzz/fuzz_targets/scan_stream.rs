//! The secret engine on arbitrary bytes: `Scanner::scan` over the whole
//! buffer and `StreamScan` fed the same bytes in pieces at fuzzer-chosen
//! split points, with a fuzzer-chosen chunk size, must report the same
//! matches (rule, offsets, line, evidence) — the streaming contract the
//! file and unallocated-space scans rely on.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use snapaudit::scan::{Match, RuleSet, Scanner, StreamScan};

fn scanner() -> &'static Scanner {
    static SCANNER: OnceLock<Scanner> = OnceLock::new();
    SCANNER.get_or_init(|| Scanner::new(RuleSet::builtin()).expect("the built-in rules compile"))
}

/// The comparable part of a match (the secret itself is never printed: the
/// evidence is already redacted).
fn key(m: &Match) -> (String, usize, usize, usize, usize, u64, String) {
    (
        m.detector.to_string(),
        m.start,
        m.end,
        m.secret_start,
        m.secret_end,
        m.line,
        m.evidence.clone(),
    )
}

fuzz_target!(|data: &[u8]| {
    // Header: 2 bytes of chunk size, 1 byte of piece-size seed, 1 byte of
    // path choice; the rest is the haystack.
    let Some((header, hay)) = data.split_first_chunk::<4>() else {
        return;
    };
    let s = scanner();
    // Chunks from 1 byte up: small chunks put many boundaries in a small
    // input (the buffer holds chunk + 2 × max_match_len bytes).
    let chunk = usize::from(u16::from_le_bytes([header[0], header[1]])) + 1;
    // Each step rescans 2 × max_match_len bytes of context: with tiny
    // chunks a long input costs O(len × context). Keep at most 64 steps, so
    // an input costs what its boundaries are worth.
    let hay = &hay[..hay.len().min(chunk.saturating_mul(64))];
    let path = match header[3] % 4 {
        0 => None,
        1 => Some("/root/.bash_history"),
        2 => Some("/home/user/.aws/credentials"),
        _ => Some("/etc/ssh/ssh_host_rsa_key"),
    };

    let mut whole = Vec::new();
    s.scan(hay, path, &mut |m| whole.push(key(&m)));

    // Piece sizes follow a small LCG from the seed byte: irregular splits.
    let mut state = u32::from(header[2]) | 1;
    let mut streamed = Vec::new();
    let mut stream = StreamScan::with_chunk_size(s, path, chunk);
    let mut rest = hay;
    while !rest.is_empty() {
        state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        let piece = (state >> 16) as usize % 97 + 1;
        let (now, later) = rest.split_at(piece.min(rest.len()));
        stream.push(now, &mut |m| streamed.push(key(&m)));
        rest = later;
    }
    stream.finish(&mut |m| streamed.push(key(&m)));
    assert_eq!(
        whole, streamed,
        "StreamScan (chunk {chunk}) disagrees with Scanner::scan"
    );
});
