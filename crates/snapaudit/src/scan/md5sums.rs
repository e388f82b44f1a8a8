//! dpkg's `/var/lib/dpkg/info/<package>.md5sums`: one line per installed
//! file, `<32 hex digits of MD5>  <path without the leading slash>`, as
//! written by `md5sum` (two spaces; `md5sum -b` writes ` *` instead).
//!
//! Vendor-content detection compares a file's digest with its line here: a
//! match inside an unchanged package file (libgnutls' self-test keys) is
//! reported as `info`, a modified one keeps its severity.

/// One line of an md5sums file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Md5sumsEntry<'a> {
    /// The MD5 digest of the file as installed.
    pub digest: [u8; 16],
    /// The path as written, relative to `/` (dpkg omits the leading slash).
    /// Bytes, not UTF-8: dpkg stores names as the package ships them.
    pub path: &'a [u8],
}

/// A line that is not `<32 hex>  <path>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Md5sumsLineError {
    /// 1-based line number.
    pub line: usize,
}

impl std::fmt::Display for Md5sumsLineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "md5sums line {}: expected `<32 hex digits>  <path>`",
            self.line
        )
    }
}

impl std::error::Error for Md5sumsLineError {}

/// Parses an md5sums file. Empty lines are skipped; a malformed line yields
/// an error for that line and parsing goes on with the next one.
pub fn parse_md5sums(
    data: &[u8],
) -> impl Iterator<Item = Result<Md5sumsEntry<'_>, Md5sumsLineError>> {
    data.split(|&b| b == b'\n')
        .enumerate()
        .filter(|(_, line)| !line.is_empty())
        .map(|(i, line)| parse_line(line).ok_or(Md5sumsLineError { line: i + 1 }))
}

fn parse_line(line: &[u8]) -> Option<Md5sumsEntry<'_>> {
    let hex = line.get(..32)?;
    let sep = line.get(32..34)?;
    if sep != b"  " && sep != b" *" {
        return None;
    }
    let path = line.get(34..)?;
    if path.is_empty() {
        return None;
    }
    let digest = crate::util::hex_bytes::<16>(hex)?;
    Some(Md5sumsEntry { digest, path })
}

#[cfg(test)]
mod tests {
    use super::*;
    use md5::{Digest, Md5};

    #[test]
    fn parses_dpkg_lines_and_reports_bad_ones() {
        let data = b"d41d8cd98f00b204e9800998ecf8427e  usr/share/doc/x/empty file\n\
                     \n\
                     not a line\n\
                     0123456789ABCDEF0123456789abcdef *usr/bin/tool\n\
                     0123456789abcdef0123456789abcdeZ  usr/bin/bad";
        let got: Vec<_> = parse_md5sums(data).collect();
        assert_eq!(got.len(), 4);
        let first = got[0].expect("line 1 parses");
        assert_eq!(first.path, b"usr/share/doc/x/empty file");
        assert_eq!(first.digest.to_vec(), Md5::digest(b"").to_vec());
        assert_eq!(got[1], Err(Md5sumsLineError { line: 3 }));
        let third = got[2].expect("line 4 parses");
        assert_eq!(third.path, b"usr/bin/tool");
        assert_eq!(third.digest[0], 0x01);
        assert_eq!(third.digest[15], 0xef);
        assert_eq!(got[3], Err(Md5sumsLineError { line: 5 }));
    }

    #[test]
    fn short_and_pathless_lines_are_errors() {
        let got: Vec<_> = parse_md5sums(b"abc\nd41d8cd98f00b204e9800998ecf8427e  \n").collect();
        assert_eq!(
            got,
            vec![
                Err(Md5sumsLineError { line: 1 }),
                Err(Md5sumsLineError { line: 2 })
            ]
        );
    }
}
