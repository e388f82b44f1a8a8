//! GRUB 2 `grub.cfg`: menu entries, submenus, the default, and where
//! `blscfg` inserts BLS entries.
//!
//! The script is parsed ([`super::script`]) and then *evaluated* offline,
//! because the default and even the menu depend on variables
//! (`set default="${saved_entry}"`, `$menuentry_id_option`, `if [
//! "${next_entry}" ]`). The evaluation follows GRUB:
//! - top-level commands run in order; `load_env` loads the given grubenv;
//!   `set`/`NAME=value`/`unset` change variables; `search --set=VAR` and
//!   `set root=` change the root device;
//! - `menuentry`/`submenu` arguments are expanded where they are defined,
//!   their bodies run later (at boot) with the variables as the whole file
//!   left them;
//! - `function` bodies are not run;
//! - an `if` whose condition can be decided (`[ "$x" ]`, `[ -z ... ]`,
//!   `[ a = b ]`, `true`, ...) with known variables takes the branch GRUB
//!   takes; when it cannot (file tests, `$grub_platform`, a variable from a
//!   `source`d file), every branch is run in order: menu entries in any
//!   branch are listed, and a `default` set there is flagged as conditional.
//!   Loop bodies are run once in the same way.
//!
//! GRUB's own feature variables (`feature_menuentry_id=y`, ...) are
//! preset as GRUB 2.02+ sets them; `prefix`, `grub_platform`, `cmdpath` and
//! the like are unknown.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::bls::{self, BlsEntry};
use super::grubenv::GrubEnv;
use super::script::{self, Part, Stmt, Word};
use super::{
    BootEntry, BootKind, BootModule, EntryOrigin, GrubDiagnostic, Menu, MenuNode, ResolvedDefault,
    Submenu, split_device_prefix, strip_device_parens,
};
use crate::system::lines::truncate_chars;

/// grub.cfg files are tens of KiB; nothing past this is read.
const MAX_INPUT_BYTES: usize = 4 * 1024 * 1024;
/// At most this many menu items (entries and submenus, all levels). Each
/// entry body runs with its own copy of the variables, so this also bounds
/// the work.
const MAX_MENU_ITEMS: usize = 2048;
/// At most this many `blscfg` insertion points (each keeps a copy of the
/// variables).
const MAX_BLS_INSERTIONS: usize = 16;
/// At most this many distinct variables are tracked; later new names are
/// treated as unknown.
const MAX_VARS: usize = 1024;
/// A variable value longer than this is cut.
const MAX_VALUE_BYTES: usize = 64 * 1024;
/// A word's expansion stops growing past this many bytes (`$a$a$a...`).
const MAX_EXPANSION_BYTES: usize = 256 * 1024;
/// The arguments of one command stop growing past this many bytes.
const MAX_ARGV_BYTES: usize = 1024 * 1024;

/// Variables GRUB 2.02+ sets itself to announce features.
const FEATURE_VARS: &[&str] = &[
    "feature_chainloader_bpb",
    "feature_ntldr",
    "feature_platform_search_hint",
    "feature_default_font_path",
    "feature_all_video_module",
    "feature_menuentry_id",
    "feature_menuentry_options",
    "feature_200_final",
    "feature_nativedisk_cmd",
    "feature_timeout_style",
];

/// Variables GRUB sets at startup whose values depend on the machine.
const RUNTIME_VARS: &[&str] = &[
    "prefix",
    "root",
    "cmdpath",
    "grub_platform",
    "grub_cpu",
    "config_directory",
    "config_file",
    "secondary_locale_dir",
    "net_default_server",
    "pager",
];

/// The parsed and evaluated grub.cfg.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Grub2Config {
    /// The menu defined in grub.cfg itself (without BLS entries; see
    /// [`Grub2Config::menu_with_bls`]).
    pub menu: Menu,
    /// The value of `default` GRUB ends up with, `None` when never set.
    pub default: Option<String>,
    /// Line of the assignment that set [`Self::default`].
    pub default_line: Option<u64>,
    /// `default` was set in a branch snapaudit could not decide, so the
    /// value above is the last possibility, not a certainty.
    pub default_is_conditional: bool,
    /// `default` depends on a value unknown offline (a `source`d file).
    pub default_is_unknown: bool,
    /// Where `blscfg` inserts BLS entries (empty when it is not used).
    pub blscfg: Vec<BlsInsertion>,
    /// `load_env` is run (the grubenv matters).
    pub load_env: bool,
    /// Files `source`d or `configfile`d (their content is not read).
    pub includes: Vec<Include>,
    /// The root device when the config finishes (what BLS entries and
    /// entries that do not set their own root use).
    pub global_root: RootState,
    pub diagnostics: Vec<GrubDiagnostic>,
    /// The input was larger than snapaudit reads, or had more menu items
    /// than it keeps.
    pub truncated: bool,
}

/// Where a `blscfg` command puts BLS entries in the menu.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BlsInsertion {
    pub line: u64,
    /// Submenu indices leading to the list that gets the entries (empty for
    /// the top level).
    pub parent_path: Vec<usize>,
    /// Index in that list where the first BLS entry goes.
    pub index: usize,
    /// Variables at that point (for `$kernelopts` in `options`).
    #[serde(skip)]
    vars: BTreeMap<String, String>,
}

/// A `source`, `.` or `configfile` command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Include {
    pub line: u64,
    pub command: String,
    /// The path after variable expansion (unknown variables vanish).
    pub path: String,
}

/// How GRUB finds the root device.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RootState {
    /// `set root=...` (parentheses removed).
    pub device: Option<String>,
    /// `search --fs-uuid ... --set=root UUID`.
    pub search_fs_uuid: Option<String>,
    /// `search --label ... --set=root LABEL`.
    pub search_label: Option<String>,
    /// Line of that `search`.
    pub line: Option<u64>,
}

impl Grub2Config {
    /// True when the config runs `blscfg` (RHEL 8+, Fedora 30+).
    pub fn uses_blscfg(&self) -> bool {
        !self.blscfg.is_empty()
    }

    /// The menu with BLS entries inserted where `blscfg` runs (sorted as
    /// GRUB sorts them, newest first). `bls` is every file of
    /// `/boot/loader/entries`, parsed with [`bls::parse_entry`].
    pub fn menu_with_bls(&self, bls: &[BlsEntry]) -> Menu {
        let mut menu = self.menu.clone();
        if self.blscfg.is_empty() {
            return menu;
        }
        let sorted = bls::sort_for_grub(bls);
        // Later insertions first, so earlier indices stay valid.
        for ins in self.blscfg.iter().rev() {
            let mut entries: Vec<MenuNode> = sorted
                .iter()
                .filter_map(|e| e.to_boot_entry(&ins.vars))
                .map(|mut b| {
                    b.root_device.clone_from(&self.global_root.device);
                    b.search_fs_uuid
                        .clone_from(&self.global_root.search_fs_uuid);
                    b.search_label.clone_from(&self.global_root.search_label);
                    MenuNode::Entry(b)
                })
                .collect();
            let Some(list) = items_at(&mut menu.items, &ins.parent_path) else {
                continue;
            };
            let at = ins.index.min(list.len());
            let tail = list.split_off(at);
            list.append(&mut entries);
            list.extend(tail);
        }
        menu
    }

    /// The entry GRUB boots by default, BLS entries included.
    pub fn resolve_default(&self, bls: &[BlsEntry]) -> Option<ResolvedDefault> {
        self.menu_with_bls(bls)
            .resolve_default(self.default.as_deref())
    }
}

fn items_at<'m>(items: &'m mut Vec<MenuNode>, path: &[usize]) -> Option<&'m mut Vec<MenuNode>> {
    match path.split_first() {
        None => Some(items),
        Some((&i, rest)) => match items.get_mut(i)? {
            MenuNode::Submenu(s) => items_at(&mut s.items, rest),
            MenuNode::Entry(_) => None,
        },
    }
}

/// Parse a grub.cfg with no grubenv (variables from `load_env` unset).
pub fn parse(bytes: &[u8]) -> Grub2Config {
    parse_with_env(bytes, &GrubEnv::empty())
}

/// Parse a grub.cfg; `load_env` loads `env`.
pub fn parse_with_env(bytes: &[u8], env: &GrubEnv) -> Grub2Config {
    let mut cfg = Grub2Config::default();
    let input = match bytes.get(..MAX_INPUT_BYTES) {
        Some(head) if head.len() < bytes.len() => {
            cfg.truncated = true;
            head
        }
        _ => bytes,
    };
    let text = String::from_utf8_lossy(input);
    let mut diags = Vec::new();
    let stmts = script::parse(&text, &mut diags);
    let mut interp = Interp {
        grubenv: env,
        diags,
        menu_items: 0,
        truncated: false,
        default_line: None,
        default_conditional: false,
        default_unknown: false,
        load_env: false,
        includes: Vec::new(),
        insertions: Vec::new(),
        bls_drafts: 0,
    };
    let mut vars = Vars::initial();
    let mut drafts = Vec::new();
    interp.exec_list(&stmts, &mut vars, &mut Sink::Menu(&mut drafts), 0);
    let items = interp.build(drafts, &vars, &[]);
    cfg.menu = Menu { items };
    cfg.default = vars
        .get("default")
        .filter(|_| vars.vars.contains_key("default"));
    cfg.default_line = interp.default_line;
    cfg.default_is_conditional = interp.default_conditional;
    cfg.default_is_unknown = interp.default_unknown;
    cfg.blscfg = interp.insertions;
    cfg.load_env = interp.load_env;
    cfg.includes = interp.includes;
    cfg.global_root = vars.root.clone();
    cfg.diagnostics = interp.diags;
    cfg.truncated |= interp.truncated;
    cfg
}

/// GRUB's variables during evaluation.
#[derive(Debug, Clone)]
struct Vars {
    /// Variables with a known value (unset ones read as empty).
    vars: BTreeMap<String, String>,
    /// Variables whose value cannot be known offline.
    unknown: BTreeSet<String>,
    /// A `source`d file ran: any variable not set since may hold anything.
    tainted: bool,
    root: RootState,
    /// `search --set=VAR` results for variables other than `root`.
    searched: BTreeMap<String, RootState>,
    /// Nesting of branches whose condition was unknown.
    uncertain: u32,
}

impl Vars {
    fn initial() -> Self {
        let mut v = Vars {
            vars: BTreeMap::new(),
            unknown: RUNTIME_VARS.iter().map(|s| s.to_string()).collect(),
            tainted: false,
            root: RootState::default(),
            searched: BTreeMap::new(),
            uncertain: 0,
        };
        for f in FEATURE_VARS {
            v.vars.insert((*f).to_string(), "y".to_string());
        }
        v
    }

    /// A variable's value; `None` when it cannot be known.
    fn get(&self, name: &str) -> Option<String> {
        if let Some(v) = self.vars.get(name) {
            return Some(v.clone());
        }
        if self.unknown.contains(name)
            || self.tainted
            || name.starts_with(|c: char| c.is_ascii_digit())
        {
            return None;
        }
        if matches!(name, "?" | "#" | "@" | "*") {
            return None;
        }
        Some(String::new())
    }

    fn set(&mut self, name: &str, value: Option<String>) {
        match value {
            Some(_) if !self.vars.contains_key(name) && self.vars.len() >= MAX_VARS => {
                self.unknown.insert(name.to_string());
            }
            Some(v) => {
                self.unknown.remove(name);
                let v = if v.len() > MAX_VALUE_BYTES {
                    truncate_chars(&v, MAX_VALUE_BYTES / 4)
                } else {
                    v
                };
                self.vars.insert(name.to_string(), v);
            }
            None => {
                self.vars.remove(name);
                self.unknown.insert(name.to_string());
            }
        }
    }
}

/// Where executed commands leave their effect.
enum Sink<'s, 'a> {
    /// A menu level: `menuentry`, `submenu` and `blscfg` add items.
    Menu(&'s mut Vec<Draft<'a>>),
    /// A menu entry's body: boot commands fill in the entry.
    Entry(&'s mut BootEntry),
}

/// A menu item found while running a menu level; bodies run later.
enum Draft<'a> {
    Entry {
        line: u64,
        title: String,
        id: Option<String>,
        body: &'a [Stmt],
    },
    Submenu {
        line: u64,
        title: String,
        id: Option<String>,
        body: &'a [Stmt],
    },
    Bls {
        line: u64,
        vars: BTreeMap<String, String>,
    },
}

struct Interp<'g> {
    grubenv: &'g GrubEnv,
    diags: Vec<GrubDiagnostic>,
    menu_items: usize,
    truncated: bool,
    default_line: Option<u64>,
    default_conditional: bool,
    default_unknown: bool,
    load_env: bool,
    includes: Vec<Include>,
    insertions: Vec<BlsInsertion>,
    bls_drafts: usize,
}

impl<'g> Interp<'g> {
    fn diag(&mut self, line: u64, message: impl Into<String>) {
        script::diag(&mut self.diags, line, message);
    }

    fn exec_list<'a>(
        &mut self,
        stmts: &'a [Stmt],
        vars: &mut Vars,
        sink: &mut Sink<'_, 'a>,
        depth: usize,
    ) {
        if depth > script::MAX_DEPTH.saturating_mul(2) {
            return;
        }
        for stmt in stmts {
            self.exec(stmt, vars, sink, depth);
        }
    }

    fn exec<'a>(&mut self, stmt: &'a Stmt, vars: &mut Vars, sink: &mut Sink<'_, 'a>, depth: usize) {
        let depth = depth.saturating_add(1);
        match stmt {
            Stmt::Cmd { line, words } => self.command(*line, words, vars, sink),
            Stmt::Block { body } => self.exec_list(body, vars, sink, depth),
            Stmt::Function { .. } => {}
            Stmt::Loop { header, body, .. } => {
                self.exec_list(header, vars, sink, depth);
                vars.uncertain = vars.uncertain.saturating_add(1);
                self.exec_list(body, vars, sink, depth);
                vars.uncertain = vars.uncertain.saturating_sub(1);
            }
            Stmt::If {
                branches,
                else_body,
                ..
            } => {
                let mut raised = 0u32;
                let mut taken = false;
                for (cond, body) in branches {
                    match self.condition(cond, vars, sink, depth) {
                        Some(true) => {
                            self.exec_list(body, vars, sink, depth);
                            taken = true;
                            break;
                        }
                        Some(false) => {}
                        None => {
                            // Unknown: this branch may run, and so may the
                            // following ones.
                            vars.uncertain = vars.uncertain.saturating_add(1);
                            raised = raised.saturating_add(1);
                            self.exec_list(body, vars, sink, depth);
                        }
                    }
                }
                if !taken && let Some(body) = else_body {
                    self.exec_list(body, vars, sink, depth);
                }
                vars.uncertain = vars.uncertain.saturating_sub(raised);
            }
            Stmt::Menu {
                line,
                submenu,
                args,
                body,
            } => self.menu_definition(*line, *submenu, args, body, vars, sink),
        }
    }

    /// Run a condition list; the result is the last command's, when it is
    /// a test snapaudit can evaluate.
    fn condition<'a>(
        &mut self,
        cond: &'a [Stmt],
        vars: &mut Vars,
        sink: &mut Sink<'_, 'a>,
        depth: usize,
    ) -> Option<bool> {
        let (last, before) = cond.split_last()?;
        self.exec_list(before, vars, sink, depth);
        let Stmt::Cmd { words, .. } = last else {
            self.exec(last, vars, sink, depth);
            return None;
        };
        let name = words.first().and_then(Word::bare);
        match name {
            Some("true") => Some(true),
            Some("false") => Some(false),
            Some("[") | Some("test") => {
                let mut argv = Vec::new();
                for w in words.iter().skip(1) {
                    let (fields, known) = expand(w, vars);
                    if !known {
                        return None;
                    }
                    argv.extend(fields);
                }
                if name == Some("[") {
                    if argv.last().map(String::as_str) != Some("]") {
                        return None;
                    }
                    argv.pop();
                }
                eval_test(&argv)
            }
            _ => {
                self.exec(last, vars, sink, depth);
                None
            }
        }
    }

    fn menu_definition<'a>(
        &mut self,
        line: u64,
        submenu: bool,
        args: &[Word],
        body: &'a [Stmt],
        vars: &mut Vars,
        sink: &mut Sink<'_, 'a>,
    ) {
        let Sink::Menu(drafts) = sink else {
            self.diag(line, "menuentry inside a menu entry body is not listed");
            return;
        };
        let argv = expand_all(args, vars);
        let mut positional = Vec::new();
        let mut id = None;
        let mut i = 0usize;
        while let Some(a) = argv.get(i) {
            i = i.saturating_add(1);
            if a == "--" {
                positional.extend(argv.get(i..).unwrap_or(&[]).iter().cloned());
                break;
            }
            let Some(long) = a.strip_prefix("--") else {
                positional.push(a.clone());
                continue;
            };
            let (name, inline) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (long, None),
            };
            match name {
                "class" | "users" | "hotkey" | "source" | "id" => {
                    // GRUB takes the next argument as the value unless it
                    // starts with '-'.
                    let value = inline.or_else(|| {
                        let next = argv.get(i).filter(|n| !n.starts_with('-')).cloned();
                        if next.is_some() {
                            i = i.saturating_add(1);
                        }
                        next
                    });
                    if name == "id" {
                        id = value;
                    }
                }
                "unrestricted" => {}
                other => {
                    let msg = format!("unknown menuentry option --{}", truncate_chars(other, 40));
                    self.diag(line, msg);
                }
            }
        }
        let Some(title) = positional.into_iter().next() else {
            self.diag(
                line,
                "menuentry/submenu without a title is rejected by GRUB",
            );
            return;
        };
        if self.menu_items >= MAX_MENU_ITEMS {
            self.truncated = true;
            return;
        }
        self.menu_items = self.menu_items.saturating_add(1);
        let title = truncate_chars(&title, 1024);
        drafts.push(if submenu {
            Draft::Submenu {
                line,
                title,
                id,
                body,
            }
        } else {
            Draft::Entry {
                line,
                title,
                id,
                body,
            }
        });
    }

    fn command(&mut self, line: u64, words: &[Word], vars: &mut Vars, sink: &mut Sink<'_, '_>) {
        let Some(first) = words.first() else { return };
        // `NAME=value` as a command is an assignment.
        if words.len() == 1 && first.assignment_name().is_some() {
            self.assign_word(line, first, vars);
            return;
        }
        let argv = expand_all(words, vars);
        let Some(cmd) = argv.first().cloned() else {
            return;
        };
        let args = argv.get(1..).unwrap_or(&[]);
        match cmd.as_str() {
            "set" => {
                for w in words.iter().skip(1) {
                    if w.assignment_name().is_some() || joined(w, vars).0.contains('=') {
                        self.assign_word(line, w, vars);
                    }
                }
            }
            "unset" => {
                for name in args {
                    vars.set(name, Some(String::new()));
                    if name == "root" {
                        vars.root = RootState::default();
                    }
                }
            }
            "load_env" => self.load_env(args, vars),
            "source"
            | "."
            | "configfile"
            | "normal"
            | "extract_entries_source"
            | "extract_entries_configfile" => {
                if let Some(path) = args.iter().find(|a| !a.starts_with('-')) {
                    if self.includes.len() < 256 {
                        self.includes.push(Include {
                            line,
                            command: cmd.clone(),
                            path: truncate_chars(path, 4096),
                        });
                    }
                }
                // Whatever the file sets is unknown from here on.
                vars.tainted = true;
            }
            "search" | "search.fs_uuid" | "search.fs_label" | "search.file" => {
                self.search(line, &cmd, args, vars);
            }
            "blscfg" | "bls_import" => match sink {
                Sink::Menu(drafts) if self.bls_drafts < MAX_BLS_INSERTIONS => {
                    self.bls_drafts = self.bls_drafts.saturating_add(1);
                    drafts.push(Draft::Bls {
                        line,
                        vars: vars.vars.clone(),
                    });
                }
                Sink::Menu(_) => self.diag(line, "too many blscfg commands; ignored"),
                Sink::Entry(_) => self.diag(line, "blscfg inside a menu entry body"),
            },
            _ => {
                if let Sink::Entry(entry) = sink {
                    boot_command(&cmd, args, entry, line);
                }
            }
        }
    }

    /// `NAME=value` (from `set` or as a command).
    fn assign_word(&mut self, line: u64, w: &Word, vars: &mut Vars) {
        let (text, known) = joined(w, vars);
        let Some((name, value)) = text.split_once('=') else {
            return;
        };
        let name = name.to_string();
        if name.is_empty() {
            return;
        }
        // `set root=$boot` after `search --set boot`: root is what was found.
        let copied_search = match w.parts.as_slice() {
            [Part::Lit(l), Part::Var(v) | Part::QuotedVar(v)] if l.ends_with('=') => {
                vars.searched.get(v).cloned()
            }
            _ => None,
        };
        let value = known.then(|| value.to_string());
        if name == "root" {
            vars.root = copied_search.unwrap_or_else(|| RootState {
                device: value
                    .as_deref()
                    .map(strip_device_parens)
                    .filter(|d| !d.is_empty()),
                ..RootState::default()
            });
        }
        if name == "default" {
            self.default_line = Some(line);
            self.default_conditional = vars.uncertain > 0;
            self.default_unknown = value.is_none();
        }
        vars.set(&name, value);
    }

    fn load_env(&mut self, args: &[String], vars: &mut Vars) {
        self.load_env = true;
        let mut whitelist = Vec::new();
        let mut i = 0usize;
        while let Some(a) = args.get(i) {
            i = i.saturating_add(1);
            match a.as_str() {
                "-f" | "--file" => i = i.saturating_add(1),
                "-s" | "--skip-sig" => {}
                _ if a.starts_with("--file=") => {}
                _ => whitelist.push(a.clone()),
            }
        }
        for (k, v) in self.grubenv.vars_for_grub() {
            if whitelist.is_empty() || whitelist.iter().any(|w| w == k) {
                vars.set(k, Some(v.to_string()));
            }
        }
    }

    /// `search [--fs-uuid|-u|--label|-l|--file|-f] [--set[=VAR]] NAME`,
    /// or `search.fs_uuid NAME [VAR]` and friends.
    fn search(&mut self, line: u64, cmd: &str, args: &[String], vars: &mut Vars) {
        #[derive(PartialEq)]
        enum By {
            Uuid,
            Label,
            File,
        }
        let mut by = match cmd {
            "search.fs_uuid" => By::Uuid,
            "search.fs_label" => By::Label,
            _ => By::File,
        };
        let mut var: Option<String> = None;
        let mut positional = Vec::new();
        let mut i = 0usize;
        while let Some(a) = args.get(i) {
            i = i.saturating_add(1);
            let takes_next = |i: &mut usize| {
                let next = args.get(*i).filter(|n| !n.starts_with('-')).cloned();
                if next.is_some() {
                    *i = i.saturating_add(1);
                }
                next
            };
            match a.as_str() {
                "--fs-uuid" | "-u" => by = By::Uuid,
                "--label" | "-l" => by = By::Label,
                "--file" | "-f" => by = By::File,
                "--no-floppy" | "-n" | "--efidisk-only" => {}
                "--set" | "-s" => var = Some(takes_next(&mut i).unwrap_or_else(|| "root".into())),
                "--hint" | "-h" => {
                    takes_next(&mut i);
                }
                _ if a.starts_with("--set=") => var = a.strip_prefix("--set=").map(str::to_string),
                _ if a.starts_with("--hint") => {
                    // --hint=X, --hint-bios=X, ...; `--hint-bios X` too.
                    if !a.contains('=') {
                        takes_next(&mut i);
                    }
                }
                _ if a.starts_with('-') && a.len() > 1 => {
                    let msg = format!("unknown search option {}", truncate_chars(a, 40));
                    self.diag(line, msg);
                }
                _ => positional.push(a.clone()),
            }
        }
        let mut positional = positional.into_iter();
        let name = positional.next();
        if cmd.starts_with("search.") {
            var = Some(positional.next().unwrap_or_else(|| "root".into()));
        }
        let Some(var) = var else { return };
        // A name from an unknown variable (`"${BOOT_UUID}"` from a sourced
        // file): something is found, but not what.
        let Some(name) = name.filter(|n| !n.is_empty()) else {
            if var == "root" {
                vars.root = RootState::default();
            } else {
                vars.searched.remove(&var);
            }
            vars.set(&var, None);
            return;
        };
        let previous = if var == "root" {
            vars.root.device.clone()
        } else {
            None
        };
        let state = RootState {
            device: previous,
            search_fs_uuid: (by == By::Uuid).then(|| name.clone()),
            search_label: (by == By::Label).then(|| name.clone()),
            line: Some(line),
        };
        if var == "root" {
            vars.root = state;
        } else {
            vars.searched.insert(var.clone(), state);
        }
        // The found device name cannot be known offline.
        vars.set(&var, None);
    }

    /// Run the bodies of the drafted items and build menu nodes.
    fn build(&mut self, drafts: Vec<Draft<'_>>, vars: &Vars, path: &[usize]) -> Vec<MenuNode> {
        let mut items = Vec::new();
        for draft in drafts {
            match draft {
                Draft::Entry {
                    line,
                    title,
                    id,
                    body,
                } => {
                    let mut entry = BootEntry::new(title, EntryOrigin::GrubCfg { line });
                    entry.id = id;
                    let mut local = vars.clone();
                    self.exec_list(body, &mut local, &mut Sink::Entry(&mut entry), 0);
                    entry.root_device = local.root.device;
                    entry.search_fs_uuid = local.root.search_fs_uuid;
                    entry.search_label = local.root.search_label;
                    entry.search_line = local.root.line;
                    items.push(MenuNode::Entry(entry));
                }
                Draft::Submenu {
                    line,
                    title,
                    id,
                    body,
                } => {
                    let mut local = vars.clone();
                    let mut sub_drafts = Vec::new();
                    self.exec_list(body, &mut local, &mut Sink::Menu(&mut sub_drafts), 0);
                    let mut sub_path = path.to_vec();
                    sub_path.push(items.len());
                    let sub_items = self.build(sub_drafts, &local, &sub_path);
                    items.push(MenuNode::Submenu(Submenu {
                        title,
                        id,
                        line,
                        items: sub_items,
                    }));
                }
                Draft::Bls {
                    line,
                    vars: snapshot,
                } => self.insertions.push(BlsInsertion {
                    line,
                    parent_path: path.to_vec(),
                    index: items.len(),
                    vars: snapshot,
                }),
            }
        }
        items
    }
}

/// A boot command inside a menu entry.
fn boot_command(cmd: &str, args: &[String], entry: &mut BootEntry, line: u64) {
    let mut operands = args.iter().filter(|a| !a.starts_with("--"));
    match cmd {
        "linux" | "linux16" | "linuxefi" | "linux32" | "multiboot" | "multiboot2"
        | "xen_hypervisor" => {
            let Some(path) = operands.next() else { return };
            let (device, path) = split_device_prefix(path);
            entry.kind = if cmd.starts_with("linux") {
                BootKind::Linux
            } else {
                BootKind::Multiboot
            };
            entry.kernel = Some(path);
            entry.kernel_device = device;
            entry.kernel_line = Some(line);
            let pos = args.iter().position(|a| !a.starts_with("--")).unwrap_or(0);
            entry.cmdline = args.get(pos.saturating_add(1)..).unwrap_or(&[]).join(" ");
            if entry.kind == BootKind::Multiboot {
                entry.modules.clear();
            }
        }
        "initrd" | "initrd16" | "initrdefi" | "initrd32" => {
            entry.initrds = operands.map(|p| split_device_prefix(p).1).collect();
            entry.initrd_line = Some(line);
        }
        "module" | "module2" | "xen_module" => {
            let Some(path) = operands.next() else { return };
            let pos = args.iter().position(|a| !a.starts_with("--")).unwrap_or(0);
            if entry.modules.len() < 64 {
                entry.modules.push(BootModule {
                    path: split_device_prefix(path).1,
                    args: args.get(pos.saturating_add(1)..).unwrap_or(&[]).join(" "),
                });
            }
        }
        "chainloader" => {
            entry.kind = BootKind::Chainload;
            entry.chainloader = operands.next().cloned();
        }
        _ => {}
    }
}

/// Expand a word into fields. Unquoted variable values split on blanks;
/// quoted parts never split; a word that expands to nothing is no field at
/// all unless it had quotes (`""` is one empty field). The flag is false
/// when a variable's value is unknown (it then expands to nothing).
fn expand(word: &Word, vars: &Vars) -> (Vec<String>, bool) {
    let mut fields: Vec<String> = Vec::new();
    let mut cur = String::new();
    // `cur` holds the start of a field (possibly empty but quoted).
    let mut active = false;
    // Bytes already moved from `cur` into `fields`.
    let mut done_bytes = 0usize;
    let mut known = true;
    for part in &word.parts {
        if cur.len().saturating_add(done_bytes) > MAX_EXPANSION_BYTES {
            break;
        }
        match part {
            Part::Lit(s) => {
                cur.push_str(s);
                active |= !s.is_empty();
            }
            Part::QuotedVar(name) => match vars.get(name) {
                Some(v) => {
                    cur.push_str(&v);
                    active |= !v.is_empty();
                }
                None => known = false,
            },
            Part::Var(name) => {
                let Some(v) = vars.get(name) else {
                    known = false;
                    continue;
                };
                let mut pieces = v.split([' ', '\t', '\n']);
                if let Some(first) = pieces.next() {
                    cur.push_str(first);
                    active |= !first.is_empty();
                }
                // Every further piece follows a blank: a field boundary.
                for piece in pieces {
                    if active {
                        done_bytes = done_bytes.saturating_add(cur.len());
                        fields.push(std::mem::take(&mut cur));
                        active = false;
                    }
                    if !piece.is_empty() {
                        cur.push_str(piece);
                        active = true;
                    }
                }
            }
        }
    }
    if active || (word.quoted && fields.is_empty()) {
        fields.push(cur);
    }
    (fields, known)
}

/// The fields of several words, within [`MAX_ARGV_BYTES`].
fn expand_all(words: &[Word], vars: &Vars) -> Vec<String> {
    let mut argv = Vec::new();
    let mut bytes = 0usize;
    for w in words {
        for field in expand(w, vars).0 {
            bytes = bytes.saturating_add(field.len());
            if bytes > MAX_ARGV_BYTES {
                return argv;
            }
            argv.push(field);
        }
    }
    argv
}

/// A word expanded without field splitting (assignments).
fn joined(word: &Word, vars: &Vars) -> (String, bool) {
    let mut out = String::new();
    let mut known = true;
    for part in &word.parts {
        if out.len() > MAX_EXPANSION_BYTES {
            break;
        }
        match part {
            Part::Lit(s) => out.push_str(s),
            Part::Var(n) | Part::QuotedVar(n) => match vars.get(n) {
                Some(v) => out.push_str(&v),
                None => known = false,
            },
        }
    }
    (out, known)
}

/// GRUB's `test` / `[`, for what can be decided without the machine.
fn eval_test(argv: &[String]) -> Option<bool> {
    let args: Vec<&str> = argv.iter().map(String::as_str).collect();
    // Leading `!`s negate (counted, not recursed, so any number is fine).
    let negations = args.iter().take_while(|a| **a == "!").count();
    let rest = args.get(negations..).unwrap_or(&[]);
    if negations > 0 && rest.is_empty() {
        // The last `!` is the operand of a one-argument test (true), the
        // others negate it.
        return Some(negations % 2 == 1);
    }
    eval_plain_test(rest).map(|b| if negations % 2 == 1 { !b } else { b })
}

fn eval_plain_test(args: &[&str]) -> Option<bool> {
    match args {
        [] => Some(false),
        [s] => Some(!s.is_empty()),
        ["-n", s] => Some(!s.is_empty()),
        ["-z", s] => Some(s.is_empty()),
        [op, _] if op.starts_with('-') => None,
        [a, "=" | "==", b] => Some(a == b),
        [a, "!=", b] => Some(a != b),
        [a, op, b] if op.starts_with('-') => {
            let (x, y) = (a.trim().parse::<i64>().ok()?, b.trim().parse::<i64>().ok()?);
            match *op {
                "-eq" => Some(x == y),
                "-ne" => Some(x != y),
                "-lt" => Some(x < y),
                "-le" => Some(x <= y),
                "-gt" => Some(x > y),
                "-ge" => Some(x >= y),
                _ => None,
            }
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(body: &str) -> GrubEnv {
        let mut b = format!("# GRUB Environment Block\n{body}").into_bytes();
        b.resize(1024, b'#');
        super::super::grubenv::parse(&b)
    }

    const DEBIAN: &str = r#"
if [ -s $prefix/grubenv ]; then
  set have_grubenv=true
  load_env
fi
if [ "${next_entry}" ] ; then
   set default="${next_entry}"
   set next_entry=
   save_env next_entry
   set boot_once=true
else
   set default="0"
fi

if [ x"${feature_menuentry_id}" = xy ]; then
  menuentry_id_option="--id"
else
  menuentry_id_option=""
fi

export menuentry_id_option

function load_video {
  insmod all_video
}
insmod part_gpt
insmod ext2
set root='hd0,gpt1'
if [ x$feature_platform_search_hint = xy ]; then
  search --no-floppy --fs-uuid --set=root --hint-bios=hd0,gpt1 --hint-efi=hd0,gpt1 --hint-baremetal=ahci0,gpt1  aaaa-bbbb
else
  search --no-floppy --fs-uuid --set=root aaaa-bbbb
fi
menuentry 'Debian GNU/Linux' --class debian --class gnu-linux --class gnu --class os $menuentry_id_option 'gnulinux-simple-aaaa-bbbb' {
	load_video
	insmod gzio
	if [ x$grub_platform = xxen ]; then insmod xzio; insmod lzopio; fi
	insmod part_gpt
	insmod ext2
	set root='hd0,gpt1'
	if [ x$feature_platform_search_hint = xy ]; then
	  search --no-floppy --fs-uuid --set=root --hint-bios=hd0,gpt1 --hint-efi=hd0,gpt1 --hint-baremetal=ahci0,gpt1  aaaa-bbbb
	else
	  search --no-floppy --fs-uuid --set=root aaaa-bbbb
	fi
	echo	'Loading Linux 6.1.0-18-cloud-amd64 ...'
	linux	/boot/vmlinuz-6.1.0-18-cloud-amd64 root=UUID=aaaa-bbbb ro  console=tty0 console=ttyS0,115200 earlyprintk=ttyS0,115200 consoleblank=0
	echo	'Loading initial ramdisk ...'
	initrd	/boot/initrd.img-6.1.0-18-cloud-amd64
}
submenu 'Advanced options for Debian GNU/Linux' $menuentry_id_option 'gnulinux-advanced-aaaa-bbbb' {
	menuentry 'Debian GNU/Linux, with Linux 6.1.0-18-cloud-amd64' --class debian $menuentry_id_option 'gnulinux-6.1.0-18-cloud-amd64-advanced-aaaa-bbbb' {
		linux	/boot/vmlinuz-6.1.0-18-cloud-amd64 root=UUID=aaaa-bbbb ro
		initrd	/boot/initrd.img-6.1.0-18-cloud-amd64
	}
	menuentry 'Debian GNU/Linux, with Linux 6.1.0-17-cloud-amd64' --class debian $menuentry_id_option 'gnulinux-6.1.0-17-cloud-amd64-advanced-aaaa-bbbb' {
		linux	/boot/vmlinuz-6.1.0-17-cloud-amd64 root=UUID=aaaa-bbbb ro single
		initrd	/boot/initrd.img-6.1.0-17-cloud-amd64
	}
}
if [ "$grub_platform" = "efi" ]; then
menuentry 'UEFI Firmware Settings' $menuentry_id_option 'uefi-firmware' {
	fwsetup
}
fi
"#;

    #[test]
    fn debian_menu_and_defaults() {
        let cfg = parse(DEBIAN.as_bytes());
        assert!(cfg.load_env);
        assert_eq!(cfg.default.as_deref(), Some("0"));
        assert!(!cfg.default_is_conditional);
        let titles: Vec<&str> = cfg.menu.items.iter().map(MenuNode::title).collect();
        assert_eq!(
            titles,
            vec![
                "Debian GNU/Linux",
                "Advanced options for Debian GNU/Linux",
                "UEFI Firmware Settings"
            ]
        );
        let d = cfg.resolve_default(&[]).expect("default");
        assert_eq!(d.path, vec![0]);
        let e = &d.entry;
        assert_eq!(e.id.as_deref(), Some("gnulinux-simple-aaaa-bbbb"));
        assert_eq!(
            e.kernel.as_deref(),
            Some("/boot/vmlinuz-6.1.0-18-cloud-amd64")
        );
        assert_eq!(e.initrds, vec!["/boot/initrd.img-6.1.0-18-cloud-amd64"]);
        assert_eq!(e.search_fs_uuid.as_deref(), Some("aaaa-bbbb"));
        assert_eq!(e.root_device.as_deref(), Some("hd0,gpt1"));
        assert!(
            e.cmdline
                .starts_with("root=UUID=aaaa-bbbb ro console=tty0 console=ttyS0,115200")
        );
        assert!(
            e.kernel_cmdline()
                .root()
                .is_some_and(|r| r.matches_uuid("AAAA-BBBB"))
        );
        assert_eq!(cfg.global_root.search_fs_uuid.as_deref(), Some("aaaa-bbbb"));

        // next_entry from grubenv wins, by id path through the submenu.
        let cfg = parse_with_env(
            DEBIAN.as_bytes(),
            &env(
                "next_entry=gnulinux-advanced-aaaa-bbbb>gnulinux-6.1.0-17-cloud-amd64-advanced-aaaa-bbbb\n",
            ),
        );
        let d = cfg.resolve_default(&[]).expect("default");
        assert_eq!(d.path, vec![1, 1]);
        assert_eq!(
            d.entry.kernel.as_deref(),
            Some("/boot/vmlinuz-6.1.0-17-cloud-amd64")
        );
        assert!(d.entry.kernel_cmdline().has("single"));
        assert!(!d.fell_back);
        // The submenu's entries inherit the top-level search.
        assert_eq!(d.entry.search_fs_uuid.as_deref(), Some("aaaa-bbbb"));
    }

    #[test]
    fn saved_entry_and_blscfg() {
        let src = r#"
set pager=1
if [ -f ${config_directory}/grubenv ]; then
  load_env -f ${config_directory}/grubenv
elif [ -s $prefix/grubenv ]; then
  load_env
fi
if [ "${next_entry}" ] ; then
   set default="${next_entry}"
else
   set default="${saved_entry}"
fi
insmod part_msdos
set root='hd0,msdos1'
search --no-floppy --fs-uuid --set=root bbbb-cccc
if [ -z "${kernelopts}" ]; then
  set kernelopts="root=/dev/mapper/rhel-root ro crashkernel=auto "
fi
insmod blscfg
blscfg
menuentry 'UEFI Firmware Settings' { fwsetup }
"#;
        let mk = |id: &str, version: &str| {
            bls::parse_entry(
                &format!("{id}.conf"),
                format!("title T {version}\nversion {version}\nlinux /vmlinuz-{version}\ninitrd /initramfs-{version}.img\noptions $kernelopts\n").as_bytes(),
            )
        };
        let entries = vec![
            mk("m-4.18.0-80.el8", "4.18.0-80.el8"),
            mk("m-4.18.0-193.el8", "4.18.0-193.el8"),
        ];

        // No grubenv: saved_entry is empty, GRUB boots the first (newest) entry.
        let cfg = parse(src.as_bytes());
        assert!(cfg.uses_blscfg());
        assert_eq!(cfg.blscfg[0].index, 0);
        let d = cfg.resolve_default(&entries).expect("default");
        assert_eq!(d.entry.id.as_deref(), Some("m-4.18.0-193.el8"));
        assert_eq!(
            d.entry.cmdline,
            "root=/dev/mapper/rhel-root ro crashkernel=auto "
        );
        assert_eq!(d.entry.search_fs_uuid.as_deref(), Some("bbbb-cccc"));
        assert!(!d.fell_back);
        let menu = cfg.menu_with_bls(&entries);
        assert_eq!(menu.items.len(), 3);
        assert_eq!(menu.items[2].title(), "UEFI Firmware Settings");

        // saved_entry picks the older kernel; kernelopts comes from grubenv.
        let cfg = parse_with_env(
            src.as_bytes(),
            &env("saved_entry=m-4.18.0-80.el8\nkernelopts=root=UUID=dddd ro\n"),
        );
        let d = cfg.resolve_default(&entries).expect("default");
        assert_eq!(d.entry.kernel.as_deref(), Some("/vmlinuz-4.18.0-80.el8"));
        assert_eq!(d.entry.cmdline, "root=UUID=dddd ro");
        assert_eq!(d.path, vec![1]);

        // A saved_entry naming a removed kernel falls back to entry 0.
        let cfg = parse_with_env(src.as_bytes(), &env("saved_entry=m-3.10.0\n"));
        let d = cfg.resolve_default(&entries).expect("default");
        assert!(d.fell_back);
        assert_eq!(d.path, vec![0]);
    }

    #[test]
    fn unknown_conditions_run_every_branch() {
        let src = "if [ -f /x ]; then\n set default=2\nelse\n set default=1\nfi\n\
if [ \"$grub_platform\" = efi ]; then\n menuentry a { linuxefi /a }\nelse\n menuentry b { linux16 /b root=/dev/sda1 }\nfi\n\
menuentry c { linux /c }\n";
        let cfg = parse(src.as_bytes());
        assert_eq!(cfg.default.as_deref(), Some("1"));
        assert!(cfg.default_is_conditional);
        assert_eq!(cfg.default_line, Some(4));
        let titles: Vec<&str> = cfg.menu.items.iter().map(MenuNode::title).collect();
        assert_eq!(titles, vec!["a", "b", "c"]);
        let d = cfg.resolve_default(&[]).expect("default");
        assert_eq!(d.entry.title, "b");
        assert!(
            d.entry
                .kernel_cmdline()
                .root()
                .is_some_and(|r| r.is_kernel_device_name())
        );
    }

    #[test]
    fn functions_sources_and_odd_menus() {
        let src = "function f {\n menuentry hidden { linux /h }\n}\n\
source $prefix/custom.cfg\n\
if [ \"$custom_default\" ]; then set default=1; fi\n\
menuentry --id only-id { linux /x }\n\
menuentry 'T' --unknown-opt --id=i2 --users \"\" { linux (hd0,2)/k a b; initrd (hd0,2)/i1 /i2; chainloader +1 }\n\
submenu 'S' { menuentry 'inner' { multiboot2 /xen.gz dom0_mem=1G; module2 /vmlinuz root=/dev/vda1 ro; module2 --nounzip /initrd } }\n";
        let cfg = parse(src.as_bytes());
        assert_eq!(cfg.includes.len(), 1);
        assert_eq!(cfg.includes[0].path, "/custom.cfg");
        // The sourced file could have set $custom_default: default unknown.
        assert!(cfg.default_is_conditional);
        let titles: Vec<&str> = cfg.menu.items.iter().map(MenuNode::title).collect();
        assert_eq!(titles, vec!["T", "S"]);
        let MenuNode::Entry(t) = &cfg.menu.items[0] else {
            panic!("entry expected")
        };
        assert_eq!(t.id.as_deref(), Some("i2"));
        assert_eq!(t.kind, BootKind::Chainload);
        assert_eq!(t.kernel.as_deref(), Some("/k"));
        assert_eq!(t.kernel_device.as_deref(), Some("hd0,2"));
        assert_eq!(t.cmdline, "a b");
        assert_eq!(t.initrds, vec!["/i1", "/i2"]);
        let d = cfg.menu.resolve_default(Some("S>inner")).expect("default");
        assert_eq!(d.entry.kind, BootKind::Multiboot);
        assert_eq!(d.entry.kernel.as_deref(), Some("/xen.gz"));
        assert_eq!(d.entry.linux_cmdline(), "root=/dev/vda1 ro");
        assert_eq!(d.entry.modules.len(), 2);
        assert!(
            cfg.diagnostics
                .iter()
                .any(|x| x.message.contains("without a title"))
        );
        assert!(
            cfg.diagnostics
                .iter()
                .any(|x| x.message.contains("--unknown-opt"))
        );
    }

    #[test]
    fn expansion_and_tests() {
        let mut v = Vars::initial();
        v.set("a", Some("x  y".into()));
        v.set("e", Some(String::new()));
        let mut d = Vec::new();
        let stmts = script::parse("cmd pre$a \"q$a\" $e \"\" $prefix", &mut d);
        let Stmt::Cmd { words, .. } = &stmts[0] else {
            panic!()
        };
        let fields: Vec<Vec<String>> = words.iter().map(|w| expand(w, &v).0).collect();
        assert_eq!(fields[1], vec!["prex", "y"]);
        assert_eq!(fields[2], vec!["qx  y"]);
        assert!(fields[3].is_empty());
        assert_eq!(fields[4], vec![""]);
        assert!(!expand(&words[5], &v).1);
        let t = |a: &[&str]| eval_test(&a.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(t(&[]), Some(false));
        assert_eq!(t(&["x"]), Some(true));
        assert_eq!(t(&["-z", ""]), Some(true));
        assert_eq!(t(&["!", "-n", "x"]), Some(false));
        assert_eq!(t(&["!"]), Some(true));
        assert_eq!(t(&["!", "!"]), Some(false));
        assert_eq!(t(&["!", "!", "x"]), Some(true));
        assert_eq!(t(&["a", "=", "b"]), Some(false));
        assert_eq!(t(&["3", "-gt", "2"]), Some(true));
        assert_eq!(t(&["-f", "/x"]), None);
        assert_eq!(t(&["a", "-o", "b", "c"]), None);
    }

    #[test]
    fn pathological_input_is_bounded() {
        // Doubling a variable and expanding it thousands of times must not
        // build gigabytes of text.
        let mut src = format!("set a={}\n", "x".repeat(60_000));
        for _ in 0..6 {
            src.push_str("set a=$a$a$a$a\n");
        }
        src.push_str(&format!(
            "menuentry t {{ linux /k {} }}\n",
            "$a".repeat(20_000)
        ));
        src.push_str(&"menuentry e { linux /e }\n".repeat(MAX_MENU_ITEMS + 10));
        src.push_str(&"blscfg\n".repeat(100));
        src.push_str(&format!(
            "if {} true; then set x=1; fi\n",
            "! ".repeat(3000)
        ));
        let cfg = parse(src.as_bytes());
        assert!(cfg.truncated);
        assert_eq!(cfg.menu.items.len(), MAX_MENU_ITEMS);
        assert_eq!(cfg.blscfg.len(), MAX_BLS_INSERTIONS);
        let MenuNode::Entry(t) = &cfg.menu.items[0] else {
            panic!("entry expected")
        };
        assert!(t.cmdline.len() <= MAX_ARGV_BYTES);
        let many_vars: String = (0..5000).map(|i| format!("set v{i}=1\n")).collect();
        let cfg = parse(many_vars.as_bytes());
        assert!(cfg.diagnostics.is_empty());
    }

    #[test]
    fn arbitrary_input_does_not_panic() {
        const ALPHABET: &[u8] =
            b"{}; \n'\"\\$#ifthenfimenuentry submenu set default=1>search --set=root linux /a\xff";
        let mut seed = 0xdead_beef_u64;
        for len in (0..2000).step_by(7) {
            let buf: Vec<u8> = (0..len)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    ALPHABET[(seed % ALPHABET.len() as u64) as usize]
                })
                .collect();
            let cfg = parse(&buf);
            let _ = cfg.resolve_default(&[]);
        }
    }
}
