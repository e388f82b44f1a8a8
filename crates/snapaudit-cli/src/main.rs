//! `snapaudit`: audit and sanitize VM disk snapshots offline.
//!
//! Exit codes: 0 no error findings; 1 at least one error finding; 2 the tool
//! could not do its job (bad arguments, unreadable image).

mod accept;
mod args;
mod check;
mod errors;
mod files;
mod inspect;
mod open;
mod render;
mod rules;
mod sanitize;
mod scan;

use std::process::ExitCode;

use clap::Parser;

use args::{Cli, Command, Format};

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(n) = cli.common.threads {
        // Only fails if a pool was already built, which cannot happen here.
        let _ = rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global();
    }
    match run(&cli) {
        Ok(code) => code,
        // `snapaudit cat … | head` closes the pipe early: not an error.
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("snapaudit: error: {}", errors::one_line_anyhow(&e));
            ExitCode::from(2)
        }
    }
}

fn run(cli: &Cli) -> anyhow::Result<ExitCode> {
    if cli.common.format == Format::Markdown && !matches!(cli.command, Command::Rules(_)) {
        anyhow::bail!("--format markdown is for `snapaudit rules`; use human, json or sarif");
    }
    match &cli.command {
        Command::Check(a) => check::run(&cli.common, a),
        Command::Scan(a) => scan::run(&cli.common, a),
        Command::Inspect(a) => inspect::run(&cli.common, a),
        Command::Ls(a) => files::ls(&cli.common, a),
        Command::Cat(a) => files::cat(&cli.common, a),
        Command::Stat(a) => files::stat(&cli.common, a),
        Command::Sanitize(a) => sanitize::run(&cli.common, a),
        Command::Rules(a) => rules::list(&cli.common, a),
        Command::Explain(a) => rules::explain(a),
        Command::Completions(a) => rules::completions(a),
        Command::Manpage => rules::manpage(),
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            || c.downcast_ref::<snapaudit::Error>().is_some_and(
                |s| matches!(s, snapaudit::Error::Io { source, .. } if source.kind() == std::io::ErrorKind::BrokenPipe),
            )
    })
}
