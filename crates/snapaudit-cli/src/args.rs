//! Command-line arguments.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(name = "snapaudit", version, about = "Audit and sanitize VM disk snapshots offline", long_about = None)]
pub struct Cli {
    #[command(flatten)]
    pub common: Common,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every subcommand takes.
#[derive(Debug, Args)]
pub struct Common {
    /// Output format.
    #[arg(long, global = true, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    /// Partition number to read (0 = whole disk); default: the root filesystem.
    #[arg(long, global = true, conflicts_with = "volume")]
    pub partition: Option<u32>,
    /// No progress and no batch summary: only findings and errors.
    #[arg(short = 'q', long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Timing of each phase (open, audit, write) on stderr.
    #[arg(short = 'v', long, global = true)]
    pub verbose: bool,
    /// LVM2 logical volume to read, as `VG/LV` (e.g. `vg0/root`).
    #[arg(long, global = true, value_name = "VG/LV")]
    pub volume: Option<String>,
    /// Worker threads (default: one per core).
    #[arg(long, global = true)]
    pub threads: Option<usize>,
    /// Read the image with plain reads instead of a memory map (for images
    /// that may change while being read, e.g. on network filesystems).
    #[arg(long, global = true)]
    pub no_mmap: bool,
    /// Look for backing files (qcow2 backing chains, differencing VHD
    /// parents) by base name in DIR, instead of where the image says.
    #[arg(long, global = true, value_name = "DIR")]
    pub backing_dir: Option<std::path::PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Human,
    Json,
    Sarif,
    /// `snapaudit rules` only.
    Markdown,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Audit system-disk images: partition layout, boot, accounts, hygiene, secrets.
    Check(CheckArgs),
    /// Scan disk images for secrets (data disks: no boot rules).
    Scan(ScanArgs),
    /// Show the partition table, partitions and filesystems.
    Inspect(InspectArgs),
    /// List a directory inside the image.
    Ls(LsArgs),
    /// Write a file from the image to stdout.
    Cat(PathArgs),
    /// Show a file's metadata.
    Stat(PathArgs),
    /// Write a fixed, scrubbed copy of a system-disk image.
    Sanitize(SanitizeArgs),
    /// List the rules (--format human, markdown or json).
    Rules(RulesArgs),
    /// Say what a rule checks, when it fires and how to fix it.
    Explain(ExplainArgs),
    /// Print a shell completion script (bash, zsh, fish).
    Completions(CompletionsArgs),
    /// Print the man page (roff) to stdout.
    Manpage,
}

#[derive(Debug, Args)]
pub struct RulesArgs {
    /// Only the rules this profile runs, with its severity changes.
    #[arg(long, default_value = "alibaba-ecs")]
    pub profile: String,
}

#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// Rule id, e.g. fstab.data-disk.
    pub rule: String,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    #[arg(value_enum)]
    pub shell: Shell,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Disk image (raw, or .gz/.zst/.xz/.tar[.gz] holding one).
    pub image: PathBuf,
}

#[derive(Debug, Args)]
pub struct LsArgs {
    pub image: PathBuf,
    /// Directory (or file) inside the image.
    #[arg(default_value = "/")]
    pub path: String,
    /// Long listing: mode, owner, size, modification time.
    #[arg(short = 'l')]
    pub long: bool,
    /// Recurse into subdirectories.
    #[arg(short = 'R')]
    pub recursive: bool,
}

#[derive(Debug, Args)]
pub struct PathArgs {
    pub image: PathBuf,
    /// Path inside the image.
    pub path: String,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Disk images (raw, or .gz/.zst/.xz/.tar[.gz] holding one).
    #[arg(required = true)]
    pub images: Vec<PathBuf>,
    /// Rule profile: alibaba-ecs or generic.
    #[arg(long, default_value = "alibaba-ecs")]
    pub profile: String,
    /// Rules only: skip the sensitive-data scan.
    #[arg(long)]
    pub no_scan: bool,
    /// Custom scan rules in gitleaks' TOML format, added to the built-in ones.
    #[arg(long, value_name = "FILE")]
    pub rules: Option<PathBuf>,
    #[command(flatten)]
    pub accept: AcceptArgs,
}

/// Accepting known findings, and what fails the run.
#[derive(Debug, Args)]
pub struct AcceptArgs {
    /// Leave out the findings of an earlier report (its JSON, JSON lines or
    /// SARIF), by fingerprint.
    #[arg(long, value_name = "REPORT.json")]
    pub baseline: Option<PathBuf>,
    /// Leave out findings matching `RULE [PATH-GLOB]` lines of this file
    /// (default: ./.snapauditignore when it exists).
    #[arg(long, value_name = "FILE")]
    pub ignore_file: Option<PathBuf>,
    /// The lowest severity that makes the exit code 1.
    #[arg(long, value_enum, default_value_t = FailOn::Error)]
    pub fail_on: FailOn,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FailOn {
    Error,
    Warning,
    /// Exit 0 whatever the findings (2 still means an image could not be audited).
    Never,
}

#[derive(Debug, Args)]
pub struct ScanArgs {
    /// Disk images (raw, or .gz/.zst/.xz/.tar[.gz] holding one).
    #[arg(required = true)]
    pub images: Vec<PathBuf>,
    /// Custom scan rules in gitleaks' TOML format, added to the built-in ones.
    #[arg(long, value_name = "FILE")]
    pub rules: Option<PathBuf>,
    #[command(flatten)]
    pub accept: AcceptArgs,
}

#[derive(Debug, Args)]
pub struct SanitizeArgs {
    /// Disk image (raw, or .gz/.zst/.xz/.tar[.gz] holding one).
    pub image: PathBuf,
    /// Where to write the sanitized image (a new file; it appears only once complete).
    #[arg(short = 'o', long = "output", required_unless_present_any = ["plan_only", "in_place"], conflicts_with = "in_place")]
    pub output: Option<PathBuf>,
    /// Replace OUT if it exists (by default an existing file is refused).
    #[arg(long)]
    pub force: bool,
    /// Print the plan (what would be done and what cannot be) and stop.
    #[arg(long)]
    pub plan_only: bool,
    /// Change the input image itself instead of writing a copy (refused for compressed inputs).
    #[arg(long)]
    pub in_place: bool,
    /// Also wipe the log files under /var/log (contents zeroed, sizes kept).
    #[arg(long)]
    pub wipe_logs: bool,
    /// Leave the free blocks as they are (by default they are zeroed, like zerofree).
    #[arg(long)]
    pub no_zero_free: bool,
    /// Rule profile of the audit that decides what to fix.
    #[arg(long, default_value = "alibaba-ecs")]
    pub profile: String,
    /// Format of the output: raw, qcow2, vhd (fixed), zst, gz or xz.
    /// Default: from the -o extension (.qcow2, .vhd, .zst, .gz, .xz; raw
    /// for anything else).
    #[arg(long, value_name = "FORMAT")]
    pub output_format: Option<String>,
}
