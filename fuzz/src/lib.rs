//! Helpers shared by the fuzz targets in `fuzz_targets/`.
//!
//! The targets only assert what must hold for *any* input: no panic, no
//! hang (libFuzzer's `-timeout`), no unbounded allocation (`-rss_limit_mb`,
//! `-malloc_limit_mb`), plus the few invariants a target names itself
//! (the streaming scanner agrees with the whole-buffer scan).

use std::collections::HashSet;

use snapaudit::ext4::layout::{Follow, Layout, ROOT_INO};
use snapaudit::ext4::{FileKind, Fs};

/// Separates the parts of a multi-part text input (`grubenv` ‖ `grub.cfg`,
/// file name ‖ BLS entry): a line holding a single NUL byte, which no real
/// config contains, so that a seed is still a readable file.
pub const PART_SEPARATOR: &[u8] = b"\n\0\n";

/// Splits `data` at the first [`PART_SEPARATOR`]: `(before, after)`, or
/// `(&[], data)` when there is none.
pub fn split2(data: &[u8]) -> (&[u8], &[u8]) {
    match data
        .windows(PART_SEPARATOR.len())
        .position(|w| w == PART_SEPARATOR)
    {
        Some(at) => (&data[..at], &data[at + PART_SEPARATOR.len()..]),
        None => (&[], data),
    }
}

/// Disk-image targets take a *prefix* of an image: metadata sits at the
/// front of the small seed images, and the zeros behind it would only make
/// libFuzzer mutate bytes nobody reads. The prefix is padded with zeros to
/// at least `min_len` bytes, the size the seed's tables and superblock
/// claim, so that a mutation of the metadata is not just "truncated image".
pub fn padded(data: &[u8], min_len: usize) -> Vec<u8> {
    let mut image = data.to_vec();
    if image.len() < min_len {
        image.resize(min_len, 0);
    }
    image
}

/// Most inodes one walk visits: enough for the seed images many times over,
/// and a bound on the work per input whatever the directories say.
const MAX_WALKED_INODES: usize = 4096;

/// Walks the filesystem of `layout` from the root by inode number (each
/// inode once), mapping every file, reading every symlink, and looking up
/// every path again by name. Errors are expected on mutated images; the
/// walk only has to finish.
pub fn exercise_layout(layout: &Layout<'_>) {
    let sb = layout.superblock();
    let _ = (sb.group_count(), sb.features().names(), sb.checksum());
    let _ = layout.free_block_ranges();
    for group in 0..sb.group_count().min(64) {
        let _ = layout.group_desc(group);
        let _ = layout.group_desc_checksum(group);
        let _ = layout.block_bitmap_checksum(group);
        let _ = layout.inode_bitmap_checksum(group);
    }
    let mut seen: HashSet<u32> = HashSet::new();
    let mut queue: Vec<(u32, Vec<u8>)> = vec![(ROOT_INO, b"/".to_vec())];
    while let Some((ino, path)) = queue.pop() {
        if !seen.insert(ino) || seen.len() > MAX_WALKED_INODES {
            continue;
        }
        let Ok(inode) = layout.inode(ino) else {
            continue;
        };
        let _ = layout.inode_checksum(&inode);
        let _ = layout.is_inode_allocated(ino);
        if let Ok(ranges) = layout.file_byte_ranges(&inode) {
            for r in ranges.iter().take(64) {
                let _ = layout.is_block_allocated(r.volume_offset_bytes / 1024);
            }
        }
        let _ = layout.file_map(&inode);
        if inode.is_symlink() {
            let _ = layout.read_link(&inode);
        }
        if !inode.is_dir() {
            let _ = layout.lookup(&path, Follow::All);
            continue;
        }
        let _ = layout.lookup(&path, Follow::Parents);
        let Ok(entries) = layout.read_dir(ino) else {
            continue;
        };
        for e in entries {
            if e.name == b"." || e.name == b".." {
                continue;
            }
            let mut child = path.clone();
            if child.last() != Some(&b'/') {
                child.push(b'/');
            }
            child.extend_from_slice(&e.name);
            queue.push((e.ino, child));
        }
    }
}

/// Most entries one [`exercise_fs`] walk reads; the walk itself must
/// terminate on its own (that is what is being tested), this only bounds
/// the per-input time on a huge but legitimate tree.
const MAX_READ_FILES: usize = 512;

/// Walks `fs` with [`Fs::walk`] (which must terminate by itself on loops),
/// stats every entry, follows every symlink, and reads the regular files.
pub fn exercise_fs(fs: &Fs) {
    let mut entries = Vec::new();
    fs.walk(
        "/",
        &mut |e| {
            if entries.len() < MAX_READ_FILES {
                entries.push((e.path.clone(), e.kind));
            }
        },
        &mut |_, _| {},
    );
    for (path, kind) in entries {
        let _ = fs.stat(&path);
        match kind {
            FileKind::File => {
                let _ = fs.read_limited(&path, 1 << 20);
                // Streaming reads any size, holes included: only small files
                // here, or a mutated i_size of 2^40 would stream for hours.
                if fs.stat(&path).is_ok_and(|st| st.size_bytes <= 1 << 20) {
                    let _ = fs.read_chunks(&path, 4096, &mut |_| Ok(()));
                }
            }
            FileKind::Symlink => {
                let _ = fs.read_link(&path);
                let _ = fs.canonicalize(&path);
                let _ = fs.stat_follow(&path);
            }
            _ => {}
        }
    }
}

/// Virtual disks up to this size are also stitched (`Image::open`: every
/// compressed unit unpacked); larger ones are only resolved, so that a
/// mutated capacity does not make an input slow.
const MAX_STITCHED_BYTES: u64 = 64 << 20;

/// Writes the container files `files` (name, bytes) into a directory of
/// this process, opens the first one's chain with the container layer,
/// and, when its disk is small, as an `Image` (stitched, allocation map
/// read). Errors are expected on mutated input; only panics, hangs and
/// runaway allocation are failures.
pub fn exercise_container(files: &[(&str, &[u8])]) {
    use std::sync::OnceLock;
    static DIR: OnceLock<std::path::PathBuf> = OnceLock::new();
    let dir = DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("snapaudit-fuzz-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("cannot create the fuzz directory");
        dir
    });
    for (name, bytes) in files {
        std::fs::write(dir.join(name), bytes).expect("cannot write a fuzz input file");
    }
    let Some((top, _)) = files.first() else {
        return;
    };
    let path = dir.join(top);
    let mut set = snapaudit::container::Files::new();
    let Ok(id) = set.open(&path) else {
        return;
    };
    let head_len = set
        .get(id)
        .size()
        .min(snapaudit::container::DETECT_HEAD_BYTES as u64);
    let Ok(head) = set.get(id).read_vec(0, head_len, "head") else {
        return;
    };
    let Ok(snapaudit::container::Detected::Known(format)) =
        snapaudit::container::detect(&head, None, top)
    else {
        return;
    };
    let Ok(resolved) = snapaudit::container::resolve(set, id, format, &Default::default()) else {
        return;
    };
    if resolved.virtual_size <= MAX_STITCHED_BYTES
        && let Ok(image) = snapaudit::image::Image::open(&path)
    {
        // Read one byte of every data page: mapped host runs and scratch.
        let bytes = image.bytes();
        let mut sum = 0u8;
        for r in image.data_ranges().unwrap_or_default() {
            for at in (r.start..r.end).step_by(4096) {
                sum ^= bytes[at as usize];
            }
        }
        std::hint::black_box(sum);
    }
}

/// Container targets: the input is written to a scratch file (one per
/// process and target, rewritten for each input) and extended with a
/// sparse zero tail to at least `min_len` bytes (the seeds are prefixes:
/// the blocks their tables point at are zeros), then parsed as the top of
/// a chain by `container::resolve` as `format`. What must hold beyond no
/// panic: every host extent of the map lies inside its host file, which is
/// what stitching the disk relies on.
pub fn exercise_padded_container(
    data: &[u8],
    target: &str,
    format: snapaudit::container::Format,
    min_len: u64,
) {
    use snapaudit::container::{ChainOptions, Data, Files, resolve};
    let path = std::env::temp_dir().join(format!("snapaudit-fuzz-{target}-{}", std::process::id()));
    std::fs::write(&path, data).expect("write the scratch file");
    if (data.len() as u64) < min_len {
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .expect("reopen the scratch file");
        file.set_len(min_len).expect("extend the scratch file");
    }
    let mut files = Files::new();
    let top = files.open(&path).expect("open the scratch file");
    if let Ok(resolved) = resolve(files, top, format, &ChainOptions::default()) {
        for e in &resolved.extents {
            if let Data::Host { file, offset } = e.data {
                let host = resolved.files.get(file);
                assert!(
                    host.contains(offset, e.len),
                    "extent {e:?} runs past the end of the {}-byte {}",
                    host.size(),
                    host.display()
                );
            }
        }
    }
}
