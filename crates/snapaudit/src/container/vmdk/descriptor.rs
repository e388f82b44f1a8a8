//! The VMDK text descriptor (VMware Virtual Disk Format 1.1, "The
//! Descriptor File"): `key=value` lines (`createType`,
//! `parentFileNameHint`, ...) and extent lines
//!
//! ```text
//! RW 4192256 SPARSE "disk-s001.vmdk"
//! RW 10240 FLAT "disk-flat.vmdk" 0
//! RDONLY 2048 ZERO
//! ```
//!
//! (access, size in sectors, type, quoted file name, and for FLAT the
//! start sector in that file). Lines that are neither, and comments (`#`),
//! are ignored, as qemu ignores them.

use crate::{Error, Result};

/// More extents than this in one descriptor is hostile (a 2 TB disk in
/// twoGbMaxExtent files has about 1000; the host files of one image are
/// capped at `files::MAX_FILES` anyway).
pub(super) const MAX_EXTENTS: usize = 1000;

/// An extent's access mode (RW, RDONLY, NOACCESS).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mode {
    ReadWrite,
    ReadOnly,
    NoAccess,
}

/// One extent line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ExtentLine {
    pub access: Mode,
    pub sectors: u64,
    /// FLAT, SPARSE, ZERO, VMFS, VMFSSPARSE, ... as written.
    pub kind: String,
    pub file: Option<String>,
    /// FLAT: the extent's first sector in `file`.
    pub offset_sectors: u64,
    /// 1-based line number and byte offset of the line, for errors.
    pub line: usize,
    pub at: u64,
}

/// A parsed descriptor.
#[derive(Debug, Clone, Default)]
pub(super) struct Descriptor {
    pub create_type: Option<String>,
    pub parent_file_name_hint: Option<String>,
    pub extents: Vec<ExtentLine>,
}

/// `key=value` (spaces around `=` allowed, the value optionally quoted).
fn key_value(line: &str) -> Option<(&str, &str)> {
    let (key, value) = line.split_once('=')?;
    let value = value.trim();
    let value = value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or(value);
    Some((key.trim(), value))
}

/// The value of `key` in `text`, read leniently (a descriptor embedded in
/// a sparse extent is only asked for `createType` and
/// `parentFileNameHint`, as qemu asks it).
pub(super) fn value(text: &str, key: &str) -> Option<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#'))
        .filter_map(key_value)
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v.to_string())
}

impl Descriptor {
    /// Parse `text`, the descriptor of `name`; `base` is the byte offset of
    /// the text in its file (for error offsets).
    pub fn parse(text: &str, name: &str, base: u64) -> Result<Descriptor> {
        let mut d = Descriptor::default();
        let mut at = base;
        for (i, raw_line) in text.split_inclusive('\n').enumerate() {
            let line_at = at;
            at += raw_line.len() as u64;
            let line = raw_line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let first = line.split_whitespace().next().unwrap_or("");
            let access = match first {
                "RW" => Some(Mode::ReadWrite),
                "RDONLY" => Some(Mode::ReadOnly),
                "NOACCESS" => Some(Mode::NoAccess),
                _ => None,
            };
            if let Some(access) = access {
                if d.extents.len() >= MAX_EXTENTS {
                    return Err(Error::unsupported(format!(
                        "{name}: the VMDK descriptor lists more than {MAX_EXTENTS} extents (line {})",
                        i + 1
                    )));
                }
                let rest = line.get(first.len()..).unwrap_or("");
                d.extents
                    .push(extent_line(rest, access, i + 1, line_at, name)?);
                continue;
            }
            if let Some((key, value)) = key_value(line) {
                match key {
                    "createType" => d.create_type = Some(value.to_string()),
                    "parentFileNameHint" => d.parent_file_name_hint = Some(value.to_string()),
                    _ => {}
                }
            }
        }
        Ok(d)
    }
}

/// `<sectors> <type> ["file" [offset]]` after the access word.
fn extent_line(rest: &str, access: Mode, line: usize, at: u64, name: &str) -> Result<ExtentLine> {
    let bad = |why: &str| Error::corrupt(at, format!("{name}: VMDK descriptor line {line}: {why}"));
    let rest = rest.trim_start();
    let (sectors, rest) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
    let sectors: u64 = sectors.parse().map_err(|_| {
        bad(&format!(
            "extent size {sectors:?} is not a number of sectors"
        ))
    })?;
    if sectors == 0 {
        return Err(bad("extent of 0 sectors"));
    }
    let rest = rest.trim_start();
    let (kind, rest) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
    if kind.is_empty() {
        return Err(bad("extent line without a type"));
    }
    let rest = rest.trim();
    let (file, rest) = if let Some(quoted) = rest.strip_prefix('"') {
        let (file, after) = quoted
            .split_once('"')
            .ok_or_else(|| bad("extent file name has no closing quote"))?;
        if file.is_empty() {
            return Err(bad("empty extent file name"));
        }
        (Some(file.to_string()), after.trim())
    } else {
        (None, rest)
    };
    let offset_sectors = if rest.is_empty() {
        0
    } else {
        rest.parse().map_err(|_| {
            bad(&format!(
                "extent offset {rest:?} is not a number of sectors"
            ))
        })?
    };
    Ok(ExtentLine {
        access,
        sectors,
        kind: kind.to_string(),
        file,
        offset_sectors,
        line,
        at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_keys_and_extent_lines_as_qemu_writes_them() {
        let text = "# Disk DescriptorFile\nversion=1\nCID=f3c34e3b\nparentCID=ffffffff\n\
            createType=\"twoGbMaxExtentFlat\"\n\n# Extent description\n\
            RW 10240 FLAT \"a b-f001.vmdk\" 0\nRDONLY 2048 FLAT \"x.vmdk\" 17\n\
            RW 8 ZERO\nNOACCESS 8 SPARSE \"s.vmdk\"\n\n#DDB\nddb.adapterType = \"ide\"\n\
            parentFileNameHint=\"base.vmdk\"\n";
        let d = Descriptor::parse(text, "d", 0).unwrap();
        assert_eq!(d.create_type.as_deref(), Some("twoGbMaxExtentFlat"));
        assert_eq!(d.parent_file_name_hint.as_deref(), Some("base.vmdk"));
        let e: Vec<_> = d
            .extents
            .iter()
            .map(|e| {
                (
                    e.access,
                    e.sectors,
                    e.kind.as_str(),
                    e.file.as_deref(),
                    e.offset_sectors,
                )
            })
            .collect();
        assert_eq!(
            e,
            vec![
                (Mode::ReadWrite, 10240, "FLAT", Some("a b-f001.vmdk"), 0),
                (Mode::ReadOnly, 2048, "FLAT", Some("x.vmdk"), 17),
                (Mode::ReadWrite, 8, "ZERO", None, 0),
                (Mode::NoAccess, 8, "SPARSE", Some("s.vmdk"), 0),
            ]
        );
        assert_eq!(d.extents[0].line, 8);
        assert_eq!(value(text, "CID").as_deref(), Some("f3c34e3b"));
    }

    #[test]
    fn malformed_extent_lines_are_corrupt_with_their_line() {
        for (line, why) in [
            ("RW x FLAT \"f\" 0", "not a number"),
            ("RW 0 FLAT \"f\" 0", "0 sectors"),
            ("RW 8", "without a type"),
            ("RW 8 FLAT \"f 0", "closing quote"),
            ("RW 8 FLAT \"f\" -1", "offset"),
        ] {
            let text = format!("# Disk DescriptorFile\ncreateType=\"monolithicFlat\"\n{line}\n");
            let err = Descriptor::parse(&text, "d", 0).unwrap_err().to_string();
            assert!(err.contains("line 3") && err.contains(why), "{line}: {err}");
        }
    }

    #[test]
    fn extent_count_is_bounded() {
        let mut text = String::from("createType=\"twoGbMaxExtentFlat\"\n");
        for _ in 0..=MAX_EXTENTS {
            text.push_str("RW 8 ZERO\n");
        }
        let err = Descriptor::parse(&text, "d", 0).unwrap_err().to_string();
        assert!(err.contains("more than 1000 extents"), "{err}");
    }
}
