//! Failures as one line on stderr: the cause said once, then a hint where
//! one helps (a full or missing `$TMPDIR`, a permission, a block device that
//! needs root, a container format to convert).
//!
//! anyhow's `{:#}` prints every error of the chain, and snapaudit's
//! `Error::Io` both displays its source and exposes it as `source()`, so the
//! plain chain says "Permission denied (os error 13): Permission denied (os
//! error 13)"; [`one_line`] drops what was already said.

use std::error::Error as StdError;
use std::io::ErrorKind;
use std::path::Path;

/// The chain of `e` and its sources.
pub fn chain<'a>(
    e: &'a (dyn StdError + 'static),
) -> impl Iterator<Item = &'a (dyn StdError + 'static)> {
    std::iter::successors(Some(e), |e: &&'a (dyn StdError + 'static)| (*e).source())
}

/// `messages` joined by ": ", each said once: a message the line already
/// holds is dropped, and a message that starts with what the line ends with
/// (the path of "cannot open P" and of "P: Permission denied") loses that
/// prefix.
pub fn join_once<'a>(messages: impl IntoIterator<Item = &'a str>) -> String {
    let mut line = String::new();
    for m in messages {
        let m = m.trim();
        if m.is_empty() || line.contains(m) {
            continue;
        }
        let mut rest = m;
        // The longest "X: " prefix of `m` whose X ends the line so far.
        let mut cut = None;
        for (i, _) in m.match_indices(": ") {
            if let Some(head) = m.get(..i)
                && !head.is_empty()
                && line.ends_with(head)
            {
                cut = Some(i + 2);
            }
        }
        if let Some(c) = cut {
            rest = m.get(c..).unwrap_or(m);
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(rest);
    }
    line
}

/// The line for `e` (with its sources), and a hint when one applies.
pub fn one_line(e: &(dyn StdError + 'static)) -> String {
    let messages: Vec<String> = chain(e).map(|c| c.to_string()).collect();
    let mut line = join_once(messages.iter().map(String::as_str));
    if let Some(h) = hint(e) {
        line.push_str("; hint: ");
        line.push_str(&h);
    }
    line
}

/// `one_line` of an anyhow error.
pub fn one_line_anyhow(e: &anyhow::Error) -> String {
    one_line(e.as_ref())
}

/// What the user can do about `e`, when there is something obvious.
pub fn hint(e: &(dyn StdError + 'static)) -> Option<String> {
    for c in chain(e) {
        let Some(core) = c.downcast_ref::<snapaudit::Error>() else {
            continue;
        };
        match core {
            snapaudit::Error::Io { path, source } => return io_hint(path, source),
            snapaudit::Error::Unsupported { what }
                if what.contains("containers are not read yet")
                    || what.contains("image; snapaudit reads") =>
            {
                return (!what.contains("qemu-img")).then(|| {
                    "convert it to a raw image first (qemu-img convert -O raw IMAGE disk.raw)"
                        .to_string()
                });
            }
            snapaudit::Error::NotADiskImage => {
                return Some(
                    "snapaudit reads raw disks and qcow2 (also .gz/.zst/.xz/.tar[.gz] holding one); is this the right file?"
                        .to_string(),
                );
            }
            _ => return None,
        }
    }
    None
}

fn io_hint(path: &Path, source: &std::io::Error) -> Option<String> {
    let tmp = std::env::temp_dir();
    // The core names the temporary directory as the path of errors about
    // its scratch and expansion files.
    let in_tmp = path == tmp;
    let full = matches!(
        source.kind(),
        ErrorKind::StorageFull | ErrorKind::QuotaExceeded
    ) || source.to_string().contains("$TMPDIR full");
    if full {
        return Some(format!(
            "compressed and container images are expanded into $TMPDIR ({}); set TMPDIR to a filesystem with room for the whole disk",
            tmp.display()
        ));
    }
    match source.kind() {
        ErrorKind::NotFound if in_tmp => Some(format!(
            "the temporary directory {} does not exist; set TMPDIR to an existing directory",
            tmp.display()
        )),
        ErrorKind::PermissionDenied if in_tmp => Some(format!(
            "cannot write to the temporary directory {}; set TMPDIR to a directory you can write",
            tmp.display()
        )),
        ErrorKind::PermissionDenied if is_block_device(path) => Some(
            "reading a block device needs root (sudo), or membership of its group (usually disk)"
                .to_string(),
        ),
        ErrorKind::PermissionDenied => Some(format!(
            "check the file's permissions (ls -l {}); snapaudit only needs to read it",
            path.display()
        )),
        _ => None,
    }
}

fn is_block_device(path: &Path) -> bool {
    use std::os::unix::fs::FileTypeExt;
    std::fs::metadata(path).is_ok_and(|m| m.file_type().is_block_device())
}

#[cfg(test)]
mod tests {
    use super::join_once;

    #[test]
    fn each_cause_is_said_once() {
        assert_eq!(
            join_once([
                "cannot open /x/a.raw",
                "/x/a.raw: Permission denied (os error 13)",
                "Permission denied (os error 13)"
            ]),
            "cannot open /x/a.raw: Permission denied (os error 13)"
        );
        assert_eq!(
            join_once(["rules file r.toml", "line 3: bad regex"]),
            "rules file r.toml: line 3: bad regex"
        );
        assert_eq!(join_once(["a", "", "b"]), "a: b");
    }
}
