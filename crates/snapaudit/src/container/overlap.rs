//! Two virtual ranges backed by the same host bytes.
//!
//! In a sound sparse container (VMDK grains, VDI blocks) every allocated
//! unit of the virtual disk has host bytes of its own. A table that maps two
//! units onto the same bytes is corrupt: following it would read one part
//! of the disk as another, and let a small file claim a large disk of
//! compressed units that each cost a full unpack.

use super::{Data, Extent, FileId, Files};

use crate::{Error, Result};

/// Fails when two extents of `extents` (one layer's map) use overlapping
/// host bytes of the same file; `what` names the unit in the message
/// ("VMDK grain", "VDI block"). A compressed extent uses its stored bytes.
pub(crate) fn check_disjoint_host(files: &Files, extents: &[Extent], what: &str) -> Result<()> {
    let mut host: Vec<(u16, u64, u64)> = extents
        .iter()
        .filter_map(|e| match e.data {
            Data::Host { file, offset } => Some((file.0, offset, offset.saturating_add(e.len))),
            Data::Compressed {
                file,
                offset,
                stored_len,
                ..
            } => Some((file.0, offset, offset.saturating_add(stored_len))),
            Data::Zero => None,
        })
        .collect();
    host.sort_unstable();
    for w in host.windows(2) {
        if let [a, b] = w
            && a.0 == b.0
            && b.1 < a.2
        {
            return Err(Error::corrupt(
                b.1,
                format!(
                    "{}: {what} at file offset {} overlaps the one at {}: two parts of the disk share host bytes",
                    files.get(FileId(b.0)).display(),
                    b.1,
                    a.1
                ),
            ));
        }
    }
    Ok(())
}

/// Checks that no two `claims` — `(start, end, where the claim is
/// recorded)`: byte ranges of a host file that a container's headers,
/// tables and blocks occupy — share a byte. Two blocks on one byte would
/// read one block's data as another's, a block over a table its metadata.
/// `format` names the container in the error.
pub(crate) fn check_disjoint(
    claims: &mut [(u64, u64, u64)],
    name: &str,
    format: &str,
) -> Result<()> {
    claims.sort_unstable();
    for w in claims.windows(2) {
        if let [a, b] = w
            && b.0 < a.1
        {
            return Err(Error::corrupt(
                b.2,
                format!(
                    "{name}: {format} structure at {}..{} overlaps the one at {}..{}",
                    b.0, b.1, a.0, a.1
                ),
            ));
        }
    }
    Ok(())
}
