//! Opening images and filesystems for the subcommands, with a progress bar
//! while compressed inputs expand.

use std::io::IsTerminal;
use std::path::Path;

use anyhow::{Context, Result};
use snapaudit::ext4::Fs;
use snapaudit::image::{Image, OpenOptions, ReadStrategy};
use snapaudit::volume::{VolumeId, Volumes};

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

/// The filesystem the user asked for: `--partition N` or `--volume VG/LV`,
/// else the root filesystem found by content (on a partition or an LV),
/// else the only ext filesystem on the disk.
pub fn filesystem(common: &Common, path: &Path) -> Result<Fs> {
    let image = image(common, path)?;
    let volumes = Volumes::read_disk(&image).with_context(|| path.display().to_string())?;
    let volume = match (common.partition, &common.volume) {
        (Some(n), _) => {
            let p = volumes.table.select(&image, n)?;
            if !p.fs.as_ref().is_some_and(|f| f.kind.is_ext()) {
                anyhow::bail!(
                    "{}: partition {n}{} holds {}, not an ext2/3/4 filesystem",
                    path.display(),
                    if n == 0 { " (the whole disk)" } else { "" },
                    p.fs.as_ref()
                        .map_or("no filesystem snapaudit recognises", |f| f.kind.as_str())
                );
            }
            snapaudit::ext4::Volume::new(&image, &p)
        }
        (None, Some(name)) => volumes
            .get(&VolumeId::Logical(name.clone()))?
            .volume(&image)?,
        (None, None) => match snapaudit::ext4::find_root_in(&image, &volumes) {
            Some(v) => v,
            None => {
                let list = volumes.list();
                let ext: Vec<_> = list
                    .iter()
                    .filter(|v| v.fs().is_some_and(|f| f.kind.is_ext()))
                    .collect();
                match ext.as_slice() {
                    [only] => only.volume(&image)?,
                    [] => anyhow::bail!("{}: no ext2/3/4 filesystem on this disk", path.display()),
                    _ => anyhow::bail!(
                        "{}: no root filesystem found and several ext filesystems exist; choose one with --partition or --volume",
                        path.display()
                    ),
                }
            }
        },
    };
    Ok(volume.open()?)
}
