//! Opening images and filesystems for the subcommands, with a progress bar
//! while compressed inputs expand.

use std::io::IsTerminal;
use std::path::Path;

use anyhow::{Context, Result};
use snapaudit::ext4::{Fs, Volume};
use snapaudit::image::{Image, OpenOptions, ReadStrategy};
use snapaudit::partition::PartitionTable;

use crate::args::Common;

/// Open an image; a progress bar shows on stderr while a compressed input
/// expands, but only when stderr is a terminal.
pub fn image(common: &Common, path: &Path) -> Result<Image> {
    let bar = (!common.quiet && std::io::stderr().is_terminal()).then(|| {
        let bar = indicatif::ProgressBar::hidden();
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar.set_message(format!("expanding {}", path.display()));
        bar
    });
    let progress = |done: u64, total: Option<u64>| {
        if let Some(bar) = &bar {
            if bar.is_hidden() {
                bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
            }
            if let Some(t) = total {
                bar.set_length(t);
            }
            bar.set_position(done);
        }
    };
    let options = OpenOptions {
        strategy: if common.no_mmap {
            ReadStrategy::Read
        } else {
            ReadStrategy::Mmap
        },
        progress: Some(&progress),
        backing_dir: common.backing_dir.as_deref(),
    };
    let img = Image::open_with(path, options)
        .with_context(|| format!("cannot open {}", path.display()))?;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    Ok(img)
}

/// The filesystem the user asked for: `--partition N`, else the root
/// filesystem found by content, else the only ext filesystem on the disk.
pub fn filesystem(common: &Common, path: &Path) -> Result<Fs> {
    let image = image(common, path)?;
    let table = PartitionTable::read_disk(&image).with_context(|| path.display().to_string())?;
    let volume = match common.partition {
        Some(n) => {
            let p = table.select(&image, n)?;
            if !p.fs.as_ref().is_some_and(|f| f.kind.is_ext()) {
                anyhow::bail!(
                    "{}: partition {n}{} holds {}, not an ext2/3/4 filesystem",
                    path.display(),
                    if n == 0 { " (the whole disk)" } else { "" },
                    p.fs.as_ref()
                        .map_or("no filesystem snapaudit recognises", |f| f.kind.as_str())
                );
            }
            Volume::new(&image, &p)
        }
        None => match snapaudit::ext4::find_root(&image, &table) {
            Some(v) => v,
            None => {
                let ext: Vec<_> = table
                    .partitions
                    .iter()
                    .filter(|p| p.fs.as_ref().is_some_and(|f| f.kind.is_ext()))
                    .collect();
                match ext.as_slice() {
                    [only] => Volume::new(&image, only),
                    [] => anyhow::bail!("{}: no ext2/3/4 filesystem on this disk", path.display()),
                    _ => anyhow::bail!(
                        "{}: no root filesystem found and several ext filesystems exist; choose one with --partition",
                        path.display()
                    ),
                }
            }
        },
    };
    Ok(volume.open()?)
}
