//! Facts about the directory layout: critical directories, init, and the
//! per-instance state (host keys, machine-id, histories, logs) that every
//! instance made from the image would share.

use crate::ext4::{FileKind, Fs};

/// What `/bin`, `/sbin` or `/lib` is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DirState {
    Dir,
    Missing,
    /// Exists but is a regular file, device, …
    NotDir(FileKind),
    /// A symlink; `resolves` tells whether it leads to a directory inside
    /// the image.
    Symlink {
        target: String,
        resolves: bool,
    },
    Unreadable(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CriticalDir {
    pub path: &'static str,
    pub state: DirState,
}

/// A file and its size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SizedPath {
    pub path: String,
    pub size_bytes: u64,
}

/// Per-instance state found in the image.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HygieneFacts {
    pub ssh_host_keys: Vec<SizedPath>,
    /// machine-id files with content (not empty, not `uninitialized`).
    pub machine_ids: Vec<SizedPath>,
    pub histories: Vec<SizedPath>,
    /// authorized_keys files and how many keys each holds.
    pub authorized_keys: Vec<(String, usize)>,
    pub cloud_init_instances: Vec<String>,
    /// Non-empty files under /var/log.
    pub logs: Vec<SizedPath>,
}

const HISTORY_FILES: &[&str] = &[
    ".bash_history",
    ".zsh_history",
    ".mysql_history",
    ".psql_history",
    ".python_history",
    ".lesshst",
    ".viminfo",
    ".sh_history",
    ".ash_history",
    ".node_repl_history",
    ".sqlite_history",
    ".rediscli_history",
];

/// Histories larger than this are reported without reading them.
const MAX_HISTORY_PEEK_BYTES: u64 = 4 << 20;

/// A bounded number of log files is listed; the count is what matters.
const MAX_LOGS: usize = 10_000;

pub fn critical_dirs(fs: &Fs) -> Vec<CriticalDir> {
    ["/bin", "/sbin", "/lib"]
        .into_iter()
        .map(|path| {
            let state = match fs.stat(path) {
                Err(crate::Error::NotFound { .. }) => DirState::Missing,
                Err(e) => DirState::Unreadable(e.to_string()),
                Ok(st) if st.kind == FileKind::Dir => DirState::Dir,
                Ok(st) if st.kind == FileKind::Symlink => DirState::Symlink {
                    target: st.symlink_target.unwrap_or_default(),
                    resolves: fs.stat_follow(path).is_ok_and(|t| t.kind == FileKind::Dir),
                },
                Ok(st) => DirState::NotDir(st.kind),
            };
            CriticalDir { path, state }
        })
        .collect()
}

/// Home directories: /root, every /home/*, and the homes in passwd.
pub fn home_dirs(fs: &Fs, passwd_homes: &[String]) -> Vec<String> {
    let mut homes = vec!["/root".to_string()];
    for e in fs.read_dir("/home").unwrap_or_default() {
        if e.kind == FileKind::Dir {
            homes.push(format!("/home/{}", e.name));
        }
    }
    homes.extend(
        passwd_homes
            .iter()
            .filter(|h| h.starts_with('/') && h.len() > 1)
            .cloned(),
    );
    homes.sort();
    homes.dedup();
    homes.retain(|h| fs.stat(h).is_ok_and(|s| s.kind == FileKind::Dir));
    homes
}

fn size_of(fs: &Fs, path: &str) -> Option<u64> {
    fs.stat(path)
        .ok()
        .filter(|s| s.kind == FileKind::File)
        .map(|s| s.size_bytes)
}

pub fn hygiene(fs: &Fs, homes: &[String]) -> HygieneFacts {
    let mut h = HygieneFacts::default();
    for e in fs.read_dir("/etc/ssh").unwrap_or_default() {
        if e.name.starts_with("ssh_host_") && e.name.ends_with("_key") && e.kind == FileKind::File {
            let path = format!("/etc/ssh/{}", e.name);
            let size_bytes = size_of(fs, &path).unwrap_or(0);
            h.ssh_host_keys.push(SizedPath { path, size_bytes });
        }
    }
    for path in ["/etc/machine-id", "/var/lib/dbus/machine-id"] {
        // systemd treats "uninitialized" like an empty file: a new id is
        // generated on first boot.
        let Ok(stat) = fs.stat(path) else { continue };
        if stat.kind != FileKind::File || stat.size_bytes == 0 {
            continue;
        }
        let content = fs.read_limited(path, 4096).unwrap_or_default();
        let text = String::from_utf8_lossy(&content);
        if !text.trim().is_empty() && text.trim() != "uninitialized" {
            h.machine_ids.push(SizedPath {
                path: path.into(),
                size_bytes: stat.size_bytes,
            });
        }
    }
    for home in homes {
        for name in HISTORY_FILES {
            let path = format!("{home}/{name}");
            // A history the sanitizer wiped keeps its size but holds only
            // zeros: nothing left to report.
            if let Some(size) = size_of(fs, &path).filter(|&s| s > 0) {
                let blank = fs
                    .read_limited(&path, MAX_HISTORY_PEEK_BYTES)
                    .is_ok_and(|b| b.iter().all(|&c| c == 0));
                if !blank {
                    h.histories.push(SizedPath {
                        path,
                        size_bytes: size,
                    });
                }
            }
        }
        for name in ["authorized_keys", "authorized_keys2"] {
            let path = format!("{home}/.ssh/{name}");
            if let Ok(bytes) = fs.read_limited(&path, 1 << 20) {
                let keys = String::from_utf8_lossy(&bytes)
                    .lines()
                    .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
                    .count();
                if keys > 0 {
                    h.authorized_keys.push((path, keys));
                }
            }
        }
    }
    h.cloud_init_instances = fs
        .read_dir("/var/lib/cloud/instances")
        .unwrap_or_default()
        .into_iter()
        .map(|e| format!("/var/lib/cloud/instances/{}", e.name))
        .collect();
    if fs.exists_lossy("/var/log") {
        fs.walk(
            "/var/log",
            &mut |e| {
                if e.kind == FileKind::File && h.logs.len() < MAX_LOGS {
                    if let Some(size) = size_of(fs, &e.path).filter(|&s| s > 0) {
                        h.logs.push(SizedPath {
                            path: e.path.clone(),
                            size_bytes: size,
                        });
                    }
                }
            },
            &mut |_, _| {},
        );
    }
    h
}
