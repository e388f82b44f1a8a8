//! Forensic file access: `ls`, `cat`, `stat`.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Result;
use snapaudit::ext4::{FileKind, Fs, Stat};

use crate::args::{Common, Format, LsArgs, PathArgs};

pub fn ls(common: &Common, args: &LsArgs) -> Result<ExitCode> {
    let fs = crate::open::filesystem(common, &args.image)?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let top = fs.stat(&args.path)?;
    let json = common.format != Format::Human;
    // Names only for `-l` (JSON keeps the numbers).
    let owners = if args.long && !json {
        Owners::of(&fs)
    } else {
        Owners {
            users: Default::default(),
            groups: Default::default(),
        }
    };
    if top.kind != FileKind::Dir {
        emit(&mut out, &owners, &top, &args.path, args.long, json)?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut code = ExitCode::SUCCESS;
    let mut dirs = vec![(args.path.clone(), 0usize)];
    // Directories already listed, by inode number: a directory hard-linked
    // into its own subtree is listed once (the depth bound alone lets two
    // such links multiply the paths exponentially).
    let mut listed = std::collections::HashSet::new();
    while let Some((dir, depth)) = dirs.pop() {
        if args.recursive
            && let Some(ino) = fs.inode_number(&dir)
            && !listed.insert(ino)
        {
            eprintln!("snapaudit: {dir}: directory already listed (a directory loop); skipped");
            code = ExitCode::from(2);
            continue;
        }
        // With -l (or JSON) every entry's metadata comes with the listing,
        // read by inode number instead of one path lookup per entry.
        let listed_entries = if args.long || json {
            fs.read_dir_stat(&dir)
                .map(|v| v.into_iter().map(|(e, st)| (e, Some(st))).collect())
        } else {
            fs.read_dir(&dir)
                .map(|v| v.into_iter().map(|e| (e, None)).collect::<Vec<_>>())
        };
        let entries = match listed_entries {
            Ok(e) => e,
            Err(e) => {
                eprintln!("snapaudit: {dir}: {e}");
                code = ExitCode::from(2);
                continue;
            }
        };
        if args.recursive && !json {
            writeln!(out, "{dir}:")?;
        }
        let mut subdirs = Vec::new();
        for (e, stat) in entries {
            let path = snapaudit::ext4::join_path(&dir, &e.name);
            // Bounded depth: a directory hard-linked into its own subtree
            // must not make `ls -R` run forever.
            if args.recursive && e.kind == FileKind::Dir && depth < snapaudit::ext4::MAX_WALK_DEPTH
            {
                subdirs.push((path.clone(), depth + 1));
            }
            if let Some(stat) = stat {
                match stat {
                    Ok(st) => emit(
                        &mut out,
                        &owners,
                        &st,
                        if json { &path } else { &e.name },
                        args.long,
                        json,
                    )?,
                    Err(err) => {
                        eprintln!("snapaudit: {path}: {err}");
                        code = ExitCode::from(2);
                    }
                }
            } else {
                writeln!(out, "{}", e.name)?;
            }
        }
        if args.recursive && !json {
            writeln!(out)?;
        }
        // Depth-first, in name order, like `ls -R`.
        dirs.extend(subdirs.into_iter().rev());
        if dirs.len() > snapaudit::ext4::MAX_LISTED_DIRS {
            anyhow::bail!(
                "more than {} directories pending: a directory loop?",
                snapaudit::ext4::MAX_LISTED_DIRS
            );
        }
    }
    out.flush()?;
    Ok(code)
}

/// Owner and group names from the image's own `/etc/passwd` and
/// `/etc/group` (not the host's), for `ls -l` and `stat`.
struct Owners {
    users: std::collections::HashMap<u32, String>,
    groups: std::collections::HashMap<u32, String>,
}

/// Account files larger than this are not read for names.
const MAX_ACCOUNT_FILE_BYTES: u64 = 16 << 20;

impl Owners {
    fn of(fs: &Fs) -> Owners {
        use snapaudit::system::accounts::{parse_group, parse_passwd};
        let read = |p: &str| {
            fs.read_limited(p, MAX_ACCOUNT_FILE_BYTES)
                .unwrap_or_default()
        };
        Owners {
            users: parse_passwd(&read("/etc/passwd"))
                .entries
                .into_iter()
                .map(|e| (e.uid, e.name))
                .collect(),
            groups: parse_group(&read("/etc/group"))
                .entries
                .into_iter()
                .map(|e| (e.gid, e.name))
                .collect(),
        }
    }

    /// The name, or the number when the image has no entry for it.
    fn user(&self, uid: u32) -> String {
        self.users
            .get(&uid)
            .cloned()
            .unwrap_or_else(|| uid.to_string())
    }

    fn group(&self, gid: u32) -> String {
        self.groups
            .get(&gid)
            .cloned()
            .unwrap_or_else(|| gid.to_string())
    }
}

fn emit(
    out: &mut impl Write,
    owners: &Owners,
    st: &Stat,
    name: &str,
    long: bool,
    json: bool,
) -> Result<()> {
    if json {
        let mut st = st.clone();
        st.path = name.to_string();
        writeln!(out, "{}", serde_json::to_string(&st)?)?;
    } else if long {
        let target = st
            .symlink_target
            .as_deref()
            .map(|t| format!(" -> {t}"))
            .unwrap_or_default();
        writeln!(
            out,
            "{}{} {:>8} {:>8} {:>12} {} {}{}",
            st.kind.letter(),
            mode_string(st.mode),
            owners.user(st.uid),
            owners.group(st.gid),
            st.size_bytes,
            format_time(st.mtime),
            name,
            target
        )?;
    } else {
        writeln!(out, "{name}")?;
    }
    Ok(())
}

pub fn cat(common: &Common, args: &PathArgs) -> Result<ExitCode> {
    let fs = crate::open::filesystem(common, &args.image)?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    fs.read_chunks(&args.path, 1 << 20, &mut |chunk| {
        out.write_all(chunk).map_err(|e| snapaudit::Error::Io {
            path: "<stdout>".into(),
            source: e,
        })
    })?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// `stat --format json`: the file's metadata, plus what only the inode
/// holds (its number and the chattr flags).
#[derive(serde::Serialize)]
struct StatJson<'a> {
    #[serde(flatten)]
    stat: &'a Stat,
    #[serde(skip_serializing_if = "Option::is_none")]
    inode: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    flags: Option<Vec<String>>,
}

pub fn stat(common: &Common, args: &PathArgs) -> Result<ExitCode> {
    let fs = crate::open::filesystem(common, &args.image)?;
    let st = fs.stat(&args.path)?;
    // The inode number and flags come from our own reader (ext4-view does
    // not expose them); an inode it cannot find leaves them out.
    let inode = snapaudit::ext4::layout::Layout::open(fs.volume().bytes())
        .ok()
        .and_then(|l| {
            l.lookup_inode(&args.path, snapaudit::ext4::layout::Follow::Parents)
                .ok()
        });
    let flags = inode.as_ref().map(|i| i.i_flags.names());
    if common.format != Format::Human {
        let doc = StatJson {
            stat: &st,
            inode: inode.as_ref().map(|i| i.ino),
            flags,
        };
        println!("{}", serde_json::to_string(&doc)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!("  File: {}", st.path);
    if let Some(t) = &st.symlink_target {
        println!("  Link: {t}");
    }
    println!("  Type: {:?}", st.kind);
    println!("  Size: {}", st.size_bytes);
    println!(
        "  Mode: {:04o} ({}{})",
        st.mode,
        st.kind.letter(),
        mode_string(st.mode)
    );
    if let Some(i) = &inode {
        let flags = flags.unwrap_or_default();
        println!(
            " Inode: {}   Flags: {}",
            i.ino,
            if flags.is_empty() {
                "-".to_string()
            } else {
                flags.join(",")
            }
        );
    }
    let owners = Owners::of(&fs);
    println!(
        "   Uid: {} ({})   Gid: {} ({})",
        st.uid,
        owners.user(st.uid),
        st.gid,
        owners.group(st.gid)
    );
    println!("Access: {}", format_time(st.atime));
    println!("Modify: {}", format_time(st.mtime));
    if let Some(c) = st.crtime {
        println!(" Birth: {}", format_time(c));
    }
    Ok(ExitCode::SUCCESS)
}

/// `rwxr-xr-x` with setuid/setgid/sticky letters, as `ls -l` prints them.
pub fn mode_string(mode: u16) -> String {
    let bit = |m: u16, c: char| if mode & m != 0 { c } else { '-' };
    let special = |x: u16, s: u16, lower: char, upper: char| match (mode & x != 0, mode & s != 0) {
        (true, true) => lower,
        (false, true) => upper,
        (true, false) => 'x',
        (false, false) => '-',
    };
    [
        bit(0o400, 'r'),
        bit(0o200, 'w'),
        special(0o100, 0o4000, 's', 'S'),
        bit(0o040, 'r'),
        bit(0o020, 'w'),
        special(0o010, 0o2000, 's', 'S'),
        bit(0o004, 'r'),
        bit(0o002, 'w'),
        special(0o001, 0o1000, 't', 'T'),
    ]
    .iter()
    .collect()
}

/// UTC `YYYY-MM-DD HH:MM:SS` without pulling in a date crate.
pub fn format_time(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}
