//! The run context every experiment shares: the output folder, the device, progress bars and
//! messages on stderr, and atomic JSON files. It imports nothing else of this crate: every experiment builds on it.
//!
//! The library (`av-align`) prints nothing: its trainer reports [`TrainEvent`]s to a callback.
//! This module is where those events become a progress bar, so all experiments show the same
//! bars and a `--quiet` run shows none.

use std::path::{Path, PathBuf};

use av_align::train::{ProgressHook, TrainConfig, TrainEvent, Trainer};
use av_align::{Error, Result};
use burn::tensor::Device;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Where a run writes, on which device, and whether it shows progress.
#[derive(Debug, Clone)]
pub struct RunContext {
    /// The run's output folder (config, data manifest, metrics JSON, pictures, report).
    pub out: PathBuf,
    /// The device the models run on.
    pub device: Device,
    /// Whether progress bars and progress messages are shown (on stderr).
    pub progress: bool,
}

impl RunContext {
    /// A run writing under `out` (created) on `device`.
    ///
    /// # Errors
    /// [`Error::Io`] when the folder cannot be created.
    pub fn new(out: impl Into<PathBuf>, device: Device, progress: bool) -> Result<Self> {
        let out = out.into();
        std::fs::create_dir_all(&out).map_err(|e| Error::io(&out, e))?;
        Ok(Self { out, device, progress })
    }

    /// `out/name`.
    pub fn path(&self, name: impl AsRef<Path>) -> PathBuf {
        self.out.join(name)
    }

    /// Writes `out/name` as pretty JSON, atomically.
    ///
    /// # Errors
    /// [`Error::Io`].
    pub fn write_json<T: Serialize>(&self, name: impl AsRef<Path>, value: &T) -> Result<()> {
        write_json(&self.path(name), value)
    }

    /// A progress bar of `len` items (none when progress is off).
    pub fn bar(&self, len: u64, message: &str) -> Option<ProgressBar> {
        bar(len, message, self.progress)
    }

    /// A progress message on stderr (none when progress is off).
    pub fn say(&self, message: impl AsRef<str>) {
        say(self.progress, message);
    }
}

/// Writes a value as pretty JSON, atomically (a temporary file, then a rename), creating the
/// parent folder. The one JSON writer of the experiments (it is `av_data::files::write_json`).
///
/// # Errors
/// [`Error::Data`] when the file cannot be written.
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        av_data::files::create_dir(parent)?;
    }
    Ok(av_data::files::write_json(path, value)?)
}

/// Reads a JSON file written by [`write_json`].
///
/// # Errors
/// [`Error::Data`] for a missing file or invalid JSON (with line and column).
pub fn read_json<T: DeserializeOwned>(path: &Path) -> Result<T> {
    Ok(av_data::files::read_json(path, "JSON file")?)
}

/// A progress message on stderr when `progress` is on.
pub fn say(progress: bool, message: impl AsRef<str>) {
    if progress {
        eprintln!("{}", message.as_ref());
    }
}

/// The experiments' progress bar: `len` items, `message` after the counts; `None` when
/// `progress` is off.
pub fn bar(len: u64, message: &str, progress: bool) -> Option<ProgressBar> {
    if !progress {
        return None;
    }
    let bar = ProgressBar::new(len);
    if let Ok(style) =
        ProgressStyle::with_template("{bar:30} {pos}/{len} {msg} ({per_sec}) [{elapsed}<{eta}]")
    {
        bar.set_style(style);
    }
    bar.set_message(message.to_string());
    Some(bar)
}

/// A callback that advances `bar` by one item (nothing when progress is off), for the
/// libraries' per-item callbacks (e.g. `av_data::bench::build_pool`).
pub fn tick(bar: &Option<ProgressBar>) -> impl Fn() + Sync + '_ {
    move || {
        if let Some(b) = bar {
            b.inc(1);
        }
    }
}

/// A training progress bar for [`av_align::train::Trainer::with_progress`]: steps, the current
/// epoch and the step's loss terms. `None` when `progress` is off.
pub fn train_progress(progress: bool) -> Option<ProgressHook<'static>> {
    if !progress {
        return None;
    }
    let mut shown: Option<ProgressBar> = None;
    Some(Box::new(move |event: &TrainEvent| match *event {
        TrainEvent::Started { total_steps, done_steps } => {
            let bar = ProgressBar::new(total_steps as u64).with_position(done_steps as u64);
            let style =
                ProgressStyle::with_template("{bar:30} {pos}/{len} steps {per_sec} [{elapsed}<{eta}] {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar());
            bar.set_style(style);
            shown = Some(bar);
        }
        TrainEvent::Step { epoch, epochs, values, .. } => {
            if let Some(bar) = &shown {
                bar.set_message(format!(
                    "epoch {}/{} loss {:.3} (cls_a {:.3} cls_v {:.3} avc {:.3} align {:.3})",
                    epoch + 1,
                    epochs,
                    values.total,
                    values.cls_a,
                    values.cls_v,
                    values.avc,
                    values.align
                ));
                bar.inc(1);
            }
        }
        TrainEvent::EpochEnd(_) => {}
        TrainEvent::Finished => {
            if let Some(bar) = shown.take() {
                bar.finish();
            }
        }
    }))
}

/// A [`Trainer`] writing under `run_dir` with the experiments' progress bar when `progress` is
/// on.
///
/// # Errors
/// [`Error::Config`] for invalid settings.
pub fn trainer(config: TrainConfig, run_dir: impl AsRef<Path>, progress: bool) -> Result<Trainer<'static>> {
    let trainer = Trainer::new(config, run_dir)?;
    Ok(match train_progress(progress) {
        Some(hook) => trainer.with_progress(hook),
        None => trainer,
    })
}
