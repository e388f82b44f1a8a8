//! Running e2fsprogs (mke2fs, debugfs, dumpe2fs) and parsing what they
//! print, as the reference the layout code is compared with.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Directories where e2fsprogs lives when /sbin is not on PATH.
const SBIN_DIRS: &[&str] = &["/sbin", "/usr/sbin", "/usr/local/sbin"];

/// The full path of an e2fsprogs tool, if installed.
pub fn tool(name: &str) -> Option<PathBuf> {
    let path_dirs = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default();
    path_dirs
        .into_iter()
        .chain(SBIN_DIRS.iter().map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// Whether mke2fs, debugfs and dumpe2fs are all there. A missing tool fails
/// the test with the install command: a comparison that cannot run must not
/// pass as if it had.
pub fn available(test: &str) -> bool {
    let missing: Vec<&str> = ["mke2fs", "debugfs", "dumpe2fs"]
        .into_iter()
        .filter(|t| tool(t).is_none())
        .collect();
    assert!(
        missing.is_empty(),
        "{test}: e2fsprogs not installed (missing {missing:?}): apt-get install -y e2fsprogs"
    );
    true
}

/// Run `tool args…` and return stdout; panics with stderr on failure.
pub fn run(name: &str, args: &[&str]) -> String {
    let path = tool(name).unwrap_or_else(|| PathBuf::from(name));
    let output = Command::new(&path)
        .args(args)
        .env("LC_ALL", "C")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {name}: {e}"));
    assert!(
        output.status.success(),
        "{name} {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Run several debugfs requests in one process (`-f`), read-only unless
/// `write`, and split the output per request.
pub fn debugfs_batch(image: &Path, requests: &[String], write: bool) -> Vec<String> {
    let dir = tempfile::tempdir().expect("tempdir");
    let script = dir.path().join("cmds");
    std::fs::write(&script, requests.join("\n") + "\n").expect("write debugfs script");
    let script = script.to_string_lossy().into_owned();
    let image = image.to_string_lossy().into_owned();
    let mut args = vec!["-f", script.as_str()];
    if write {
        args.insert(0, "-w");
    }
    args.push(image.as_str());
    let out = run("debugfs", &args);
    // With -f, debugfs echoes each request as "debugfs: <request>".
    let mut parts: Vec<String> = Vec::new();
    for line in out.lines() {
        if line.starts_with("debugfs: ") {
            parts.push(String::new());
        } else if let Some(current) = parts.last_mut() {
            current.push_str(line);
            current.push('\n');
        }
    }
    assert_eq!(
        parts.len(),
        requests.len(),
        "debugfs answered {} of {} requests",
        parts.len(),
        requests.len()
    );
    parts
}

/// `dumpe2fs -h` as label → value.
pub fn dumpe2fs_header(image: &Path) -> BTreeMap<String, String> {
    let out = run("dumpe2fs", &["-h", &image.to_string_lossy()]);
    out.lines()
        .filter_map(|line| {
            let (key, value) = line.split_once(':')?;
            Some((key.trim().to_string(), value.trim().to_string()))
        })
        .collect()
}

/// One group as `dumpe2fs` prints it.
#[derive(Debug, Default)]
pub struct DumpGroup {
    pub first_block: u64,
    pub last_block: u64,
    /// "Free blocks:" ranges, inclusive, as printed (with bigalloc the
    /// last number is the first block of the last free cluster).
    pub free_blocks: Vec<(u64, u64)>,
    pub free_inodes: Vec<(u64, u64)>,
}

fn parse_ranges(list: &str) -> Vec<(u64, u64)> {
    list.split(',')
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(|r| match r.split_once('-') {
            Some((a, b)) => (
                a.parse().expect("range start"),
                b.parse().expect("range end"),
            ),
            None => {
                let n = r.parse().expect("single block");
                (n, n)
            }
        })
        .collect()
}

/// The per-group part of `dumpe2fs`.
pub fn dumpe2fs_groups(image: &Path) -> Vec<DumpGroup> {
    let out = run("dumpe2fs", &[&image.to_string_lossy()]);
    let mut groups: Vec<DumpGroup> = Vec::new();
    for line in out.lines() {
        if let Some(rest) = line
            .strip_prefix("Group ")
            .filter(|r| r.contains("(Blocks "))
        {
            // "Group 1: (Blocks 8193-16383) csum 0x5f50 [INODE_UNINIT]"
            let span = rest
                .split("(Blocks ")
                .nth(1)
                .and_then(|s| s.split(')').next())
                .expect("group span");
            let (first, last) = span.split_once('-').expect("group span range");
            groups.push(DumpGroup {
                first_block: first.parse().expect("group first"),
                last_block: last.parse().expect("group last"),
                ..DumpGroup::default()
            });
        } else if let Some(list) = line.trim_start().strip_prefix("Free blocks:") {
            if let Some(group) = groups.last_mut() {
                group.free_blocks = parse_ranges(list);
            }
        } else if let Some(list) = line.trim_start().strip_prefix("Free inodes:") {
            if let Some(group) = groups.last_mut() {
                group.free_inodes = parse_ranges(list);
            }
        }
    }
    groups
}

/// What `debugfs stat` says about an inode.
#[derive(Debug, Default)]
pub struct Stat {
    pub fields: BTreeMap<String, String>,
    /// Data runs `(logical, physical, len, uninit)` from BLOCKS/EXTENTS.
    pub data: Vec<(u64, u64, u64, bool)>,
    /// IND/DIND/TIND/ETBn blocks.
    pub metadata: Vec<u64>,
    /// `ctime`, `atime`, `mtime`, `crtime` as (lo, extra).
    pub times: BTreeMap<String, (u32, Option<u32>)>,
}

/// Parse one `debugfs stat` output.
pub fn parse_stat(text: &str) -> Stat {
    let mut stat = Stat::default();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let trimmed = line.trim();
        if trimmed == "BLOCKS:" || trimmed == "EXTENTS:" {
            if let Some(list) = lines.next() {
                parse_block_list(list, &mut stat);
            }
            continue;
        }
        for time in ["ctime", "atime", "mtime", "crtime"] {
            if let Some(rest) = trimmed.strip_prefix(&format!("{time}: 0x")) {
                let value = rest.split_whitespace().next().unwrap_or("");
                let (lo, extra) = match value.split_once(':') {
                    Some((lo, extra)) => (
                        lo,
                        Some(u32::from_str_radix(extra, 16).expect("time extra")),
                    ),
                    None => (value, None),
                };
                stat.times.insert(
                    time.to_string(),
                    (u32::from_str_radix(lo, 16).expect("time lo"), extra),
                );
            }
        }
    }
    // "Key: value   Key2: value2" pairs; the first occurrence wins (the
    // "Fragment:" line repeats "Size:").
    let re = regex::Regex::new(
        r"(Size of extra inode fields|Size of inline data|Inode checksum|Inode|Type|Mode|Flags|Generation|User|Group|Size|File ACL|Links|Blockcount):\s*(\S+)",
    )
    .expect("regex");
    for caps in re.captures_iter(text) {
        stat.fields
            .entry(caps[1].to_string())
            .or_insert_with(|| caps[2].to_string());
    }
    stat
}

fn parse_block_list(list: &str, stat: &mut Stat) {
    for token in list.split(", ").map(str::trim).filter(|t| !t.is_empty()) {
        // "(12-267):4913-5168", "(0-99[u]):1333-1432", "(IND):4912", "(ETB0):1189"
        let Some((logical, physical)) = token.strip_prefix('(').and_then(|t| t.split_once("):"))
        else {
            continue;
        };
        let (phys_first, phys_last) = match physical.split_once('-') {
            Some((a, b)) => (
                a.parse::<u64>().expect("phys"),
                b.parse::<u64>().expect("phys"),
            ),
            None => {
                let n = physical.parse::<u64>().expect("phys");
                (n, n)
            }
        };
        if logical.starts_with("IND")
            || logical.starts_with("DIND")
            || logical.starts_with("TIND")
            || logical.starts_with("ETB")
        {
            stat.metadata.extend(phys_first..=phys_last);
            continue;
        }
        let uninit = logical.ends_with("[u]");
        let logical = logical.trim_end_matches("[u]");
        let logical_first = match logical.split_once('-') {
            Some((a, _)) => a.parse::<u64>().expect("logical"),
            None => logical.parse::<u64>().expect("logical"),
        };
        let len = phys_last - phys_first + 1;
        // Merge runs that continue logically and physically, as the layout
        // code does.
        if let Some(last) = stat.data.last_mut() {
            if last.3 == uninit && last.0 + last.2 == logical_first && last.1 + last.2 == phys_first
            {
                last.2 += len;
                continue;
            }
        }
        stat.data.push((logical_first, phys_first, len, uninit));
    }
}

/// One `debugfs ls -p` line: `/ino/mode/uid/gid/name/size/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LsEntry {
    pub ino: u32,
    pub mode: u32,
    pub name: String,
}

pub fn parse_ls_p(text: &str) -> Vec<LsEntry> {
    text.lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.strip_prefix('/')?.split('/').collect();
            if fields.len() < 5 {
                return None;
            }
            // Empty slots (inode 0) are listed too; they are not entries.
            let ino: u32 = fields[0].parse().ok()?;
            if ino == 0 {
                return None;
            }
            Some(LsEntry {
                ino,
                mode: u32::from_str_radix(fields[1], 8).ok()?,
                name: fields[4].to_string(),
            })
        })
        .collect()
}
