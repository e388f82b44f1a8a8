//! `qemu-img`, the oracle of the container tests: it writes the images
//! (`qemu-img convert`) and says what is allocated in them (`qemu-img map`).
//! A test that needs it fails, with the install command, when it is
//! missing.

use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;

use crate::fixtures::{run_ok, tool};

/// A `qemu-img` command; panics with the install command when the tool is
/// missing.
pub fn img() -> Command {
    static FOUND: OnceLock<bool> = OnceLock::new();
    let found = *FOUND.get_or_init(|| {
        tool("qemu-img")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    });
    assert!(found, "qemu-img not found: apt-get install -y qemu-utils");
    tool("qemu-img")
}

/// `qemu-img convert -f raw ARGS RAW OUT` (ARGS: `-O vmdk -o subformat=...`).
pub fn convert_raw(raw: &Path, out: &Path, args: &[&str]) {
    run_ok(
        img()
            .args(["convert", "-f", "raw"])
            .args(args)
            .arg(raw)
            .arg(out),
    );
}

/// One entry of `qemu-img map --output=json`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapEntry {
    pub start: u64,
    pub length: u64,
    pub data: bool,
    pub zero: bool,
}

impl MapEntry {
    pub fn range(&self) -> Range<u64> {
        self.start..self.start + self.length
    }
}

/// `qemu-img map --output=json PATH`.
pub fn map(path: &Path) -> Vec<MapEntry> {
    let out = run_ok(img().args(["map", "--output=json"]).arg(path));
    let entries: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("qemu-img map {}: not JSON: {e}", path.display()));
    let list = entries
        .as_array()
        .unwrap_or_else(|| panic!("qemu-img map {}: not a list", path.display()));
    list.iter()
        .map(|e| {
            let num = |k: &str| {
                e[k].as_u64()
                    .unwrap_or_else(|| panic!("qemu-img map entry without {k}: {e}"))
            };
            let flag = |k: &str| {
                e[k].as_bool()
                    .unwrap_or_else(|| panic!("qemu-img map entry without {k}: {e}"))
            };
            MapEntry {
                start: num("start"),
                length: num("length"),
                data: flag("data"),
                zero: flag("zero"),
            }
        })
        .collect()
}

/// `ranges` (ascending) with touching and empty ones merged.
pub fn coalesce(ranges: impl IntoIterator<Item = Range<u64>>) -> Vec<Range<u64>> {
    let mut out: Vec<Range<u64>> = Vec::new();
    for r in ranges {
        if r.is_empty() {
            continue;
        }
        match out.last_mut() {
            Some(last) if last.end >= r.start => last.end = last.end.max(r.end),
            _ => out.push(r),
        }
    }
    out
}

/// A small deterministic generator (xorshift64*): the tests' "random"
/// offsets and bytes are the same on every run.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

/// Writes a sparse raw disk of `size` bytes at `path`: `writes` runs of
/// random bytes (up to `max_run` each) at random places, holes in between.
pub fn random_sparse_raw(path: &Path, size: u64, writes: usize, max_run: u64, seed: u64) {
    let file = std::fs::File::create(path)
        .unwrap_or_else(|e| panic!("cannot create {}: {e}", path.display()));
    file.set_len(size)
        .unwrap_or_else(|e| panic!("cannot size {}: {e}", path.display()));
    let mut rng = Rng::new(seed);
    for _ in 0..writes {
        let len = 1 + rng.below(max_run);
        let at = rng.below(size - len);
        let bytes: Vec<u8> = (0..len).map(|_| rng.next_u64() as u8 | 1).collect();
        file.write_all_at(&bytes, at)
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
    }
}
