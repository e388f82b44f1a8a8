//! Tar archives holding one disk image, sparse or not: the block-by-block
//! walker (`tarball::extract_single`: headers, checksums, PAX and long-name
//! headers, old GNU sparse headers and extension blocks, PAX 0.0/0.1/1.0
//! maps) into a sink that checks every write, and the map parsers alone.
#![no_main]

use std::io;
use std::path::Path;

use libfuzzer_sys::fuzz_target;
use snapaudit::image::sparse_map::{self, MAX_REAL_SIZE_BYTES};
use snapaudit::image::tarball::{self, Sink};

/// Writes must come after the size is set and stay inside it.
#[derive(Default)]
struct Checked {
    len_bytes: Option<u64>,
    written_bytes: u64,
}

impl Sink for Checked {
    fn set_len(&mut self, len_bytes: u64) -> io::Result<()> {
        assert!(self.len_bytes.is_none(), "size set twice");
        assert!(len_bytes <= MAX_REAL_SIZE_BYTES);
        self.len_bytes = Some(len_bytes);
        Ok(())
    }

    fn write_at(&mut self, offset: u64, data: &[u8]) -> io::Result<()> {
        let len = self.len_bytes.expect("write before the size is set");
        let end = offset
            .checked_add(data.len() as u64)
            .expect("write overflows");
        assert!(end <= len, "write at {offset}+{} past {len}", data.len());
        self.written_bytes += data.len() as u64;
        Ok(())
    }
}

fuzz_target!(|data: &[u8]| {
    let mut sink = Checked::default();
    if let Ok(member) = tarball::extract_single(&mut &data[..], &mut sink, Path::new("fuzz.tar")) {
        assert_eq!(sink.len_bytes, Some(member.size_bytes));
        // The runs' data comes from the archive: never more than its bytes.
        assert!(sink.written_bytes <= data.len() as u64);
    }

    // The parsers on their own: the input as a 0.1 map, as a 1.0 map, and
    // as `key=value` lines for 0.0.
    if let Ok(map) = sparse_map::parse_map_01(data, 0) {
        let _ = map.finish(u64::MAX, 0);
    }
    if let Ok((map, used)) = sparse_map::read_map_10(&mut &data[..], data.len() as u64, 0) {
        assert!(used <= data.len() as u64);
        let _ = map.finish(MAX_REAL_SIZE_BYTES, 0);
    }
    let records: Vec<(&str, &[u8])> = data
        .split(|&b| b == b'\n')
        .filter_map(|line| {
            let eq = line.iter().position(|&b| b == b'=')?;
            Some((std::str::from_utf8(&line[..eq]).ok()?, &line[eq + 1..]))
        })
        .collect();
    let _ = sparse_map::from_pax_00(records, 0);
});
