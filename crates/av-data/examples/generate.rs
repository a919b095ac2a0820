//! Generates the offline benchmark, writes it in a real dataset layout, times it, and draws a
//! picture of a few scenes.
//!
//! ```text
//! # write 1000 scenes (80/10/10 % train/val/test) in the SoundNet-Flickr layout
//! cargo run --release -p av-data --example generate -- --out /tmp/bench --n 1000 --seed 7 --layout flickr
//! # time 10 000 scenes in memory (no disk writes)
//! cargo run --release -p av-data --example generate -- --n 10000 --seed 7 --layout flickr
//! # the picture in docs/
//! cargo run --release -p av-data --example generate -- --n 0 --picture docs/images/benchmark_scenes.png
//! ```

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use av_data::bench::{AssetPack, BenchConfig, DatasetWriter, Generator, Layout, WriteOptions};
use av_data::image_io::save_png;
use av_data::viz::{annotate_scene, grid};
use av_data::{Split, rng::hash_words};
use clap::{Parser, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LayoutArg {
    Flickr,
    Audioset,
    Music,
}

#[derive(Debug, Parser)]
#[command(about = "Generate the av-align offline audio-visual benchmark")]
struct Args {
    /// Output directory; without it, scenes are generated in memory and timed, nothing is written.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Number of scenes (80 % train, 10 % val, 10 % test when writing; all train when timing).
    #[arg(long, default_value_t = 1000)]
    n: u64,
    /// Generator seed.
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Layout to write (flickr and audioset: 22 050 Hz 5-s clips, levels 1-3, AudioSet's 15
    /// classes; music: 11 025 Hz 65 535-sample clips, solos and duets of MUSIC's 11 instruments).
    #[arg(long, value_enum, default_value_t = LayoutArg::Flickr)]
    layout: LayoutArg,
    /// Also write a picture of 8 scenes (all splits) with their boxes and class names to this PNG.
    #[arg(long)]
    picture: Option<PathBuf>,
    /// Do not write per-source stems.
    #[arg(long)]
    no_stems: bool,
    /// The broad benchmark (picture families, SoundFonts, photo groups, training augmentation;
    /// `BenchConfig::broad_localization`); its picture shows augmented training scenes and
    /// out-of-family test scenes.
    #[arg(long)]
    broad: bool,
    /// Write the out-of-family scenes instead (picture families, SoundFont and photo groups the
    /// configuration keeps out of training), half as a validation split and half as a test
    /// split; with `--broad` only.
    #[arg(long, requires = "broad")]
    out_of_family: bool,
    /// Probability per sprite of a restyle in training scenes (silhouette, outline drawing,
    /// flat recoloured colours; `Augment::sprite_style`); with `--broad` only.
    #[arg(long, requires = "broad")]
    sprite_style: Option<f64>,
    /// Probability per training scene of clutter pictures on the background (silent animals,
    /// people, furniture, tools; `Augment::clutter`); with `--broad` only.
    #[arg(long, requires = "broad")]
    clutter: Option<f64>,
    /// Training-only picture families to add (`AssetSelection::train_sprite_families`), comma
    /// separated; with `--broad` only.
    #[arg(long, requires = "broad", value_delimiter = ',')]
    train_families: Vec<String>,
}

fn main() -> Result<()> {
    let args = Args::parse();
    let t = Instant::now();
    let assets = Arc::new(AssetPack::load_default().context("loading the asset pack")?);
    let (layout, config) = match args.layout {
        LayoutArg::Flickr if args.broad => (Layout::Flickr, BenchConfig::broad_localization(args.seed)),
        LayoutArg::Flickr => (Layout::Flickr, BenchConfig::localization(args.seed)),
        LayoutArg::Audioset => (Layout::AudioSet, BenchConfig::localization(args.seed)),
        LayoutArg::Music => (Layout::Music, BenchConfig::separation(args.seed)),
    };
    let mut config = config;
    if let Some(p) = args.sprite_style {
        config.augment.sprite_style = p;
    }
    if let Some(p) = args.clutter {
        config.augment.clutter = p;
    }
    config.assets.train_sprite_families.extend(args.train_families.iter().cloned());
    let config = if args.out_of_family {
        config.out_of_family_config().context("this configuration has no out-of-family assets")?
    } else {
        config
    };
    let generator = Generator::new(assets, config.clone())?;
    println!(
        "asset pack loaded in {:.2} s (fingerprint {})",
        t.elapsed().as_secs_f64(),
        &generator.assets().fingerprint()[..12]
    );
    let threads = rayon::current_num_threads();

    if let Some(path) = &args.picture {
        if args.broad {
            broad_picture(&generator, path)?;
        } else {
            picture(&generator, path)?;
        }
        println!("picture written to {}", path.display());
    }
    if args.n == 0 {
        return Ok(());
    }
    let bar = ProgressBar::new(args.n);
    bar.set_style(ProgressStyle::with_template("{bar:40} {pos}/{len} scenes {elapsed} eta {eta}")?);
    match &args.out {
        None => {
            // Counted: everything that makes a scene in memory (background view, sprite scaling,
            // placement, compositing, masks and boxes, melody composition, stem rendering and
            // normalisation, the mix). Not counted: loading the asset pack (printed above).
            let t = Instant::now();
            let checksum = (0..args.n)
                .into_par_iter()
                .map(|i| {
                    let s = generator.scene(Split::Train, i)?;
                    bar.inc(1);
                    Ok(hash_words(&[
                        s.audio.mix.len() as u64,
                        u64::from(s.image.as_raw()[1000]),
                        s.objects.len() as u64,
                    ]))
                })
                .try_reduce(|| 0, |a, b| Ok(a ^ b));
            let checksum: u64 = checksum.map_err(|e: av_data::DataError| e)?;
            bar.finish_and_clear();
            let secs = t.elapsed().as_secs_f64();
            println!(
                "generated {} scenes in memory in {secs:.2} s ({:.0} scenes/s) on {threads} threads, layout {:?}, clip {} Hz x {} samples (checksum {checksum:016x})",
                args.n,
                args.n as f64 / secs,
                args.layout,
                config.clip.sample_rate,
                config.clip.len
            );
        }
        Some(out) => {
            let options = WriteOptions { stems: !args.no_stems, ..WriteOptions::default() };
            let writer = DatasetWriter::new(out, layout, config, options)?;
            // Out-of-family photo groups have no training views, so that set is written as
            // validation and test splits only (half each).
            let (n_train, n_val, n_test) = if args.out_of_family {
                (0, args.n / 2, args.n - args.n / 2)
            } else {
                (args.n - 2 * (args.n / 10), args.n / 10, args.n / 10)
            };
            let t = Instant::now();
            let mut records = Vec::with_capacity(args.n as usize);
            for (split, n) in [(Split::Train, n_train), (Split::Val, n_val), (Split::Test, n_test)] {
                let part: Vec<_> = (0..n)
                    .into_par_iter()
                    .map(|i| {
                        let r = writer.write_scene(&generator.scene(split, i)?);
                        bar.inc(1);
                        r
                    })
                    .collect::<Result<_, _>>()?;
                records.extend(part);
            }
            let manifest = writer.finish(records, generator.assets().fingerprint())?;
            bar.finish_and_clear();
            let bytes: u64 = manifest.files.iter().map(|f| f.bytes).sum();
            println!(
                "wrote {} scenes ({n_train} train, {n_val} val, {n_test} test) to {} in {:.1} s: {} files, {:.1} MB",
                args.n,
                out.display(),
                t.elapsed().as_secs_f64(),
                manifest.files.len(),
                bytes as f64 / 1e6
            );
        }
    }
    Ok(())
}

/// 8 augmented training scenes (top rows) and 8 out-of-family test scenes (bottom rows).
fn broad_picture(generator: &Generator, path: &PathBuf) -> Result<()> {
    let out = generator.out_of_family()?;
    let vocab = generator.config().vocabulary;
    let mut tiles = Vec::new();
    for i in 0..8 {
        tiles.push(annotate_scene(&generator.scene(Split::Train, i)?, vocab));
    }
    for i in 0..8 {
        tiles.push(annotate_scene(&out.scene(Split::Test, i)?, vocab));
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    save_png(path, &grid(&tiles, 4, 4, [255, 255, 255]))?;
    Ok(())
}

/// 8 scenes from all three splits, on 8 different photos: two of level 1, three of level 2,
/// three of level 3, at least two of them with a silent distractor.
fn picture(generator: &Generator, path: &PathBuf) -> Result<()> {
    let mut want = [0usize, 2, 3, 3];
    let mut with_distractor = 0;
    let mut picked: Vec<av_data::bench::Scene> = Vec::new();
    'search: for i in 0..500 {
        for split in Split::ALL {
            let s = generator.scene(split, i)?;
            let l = usize::from(s.level);
            let has_d = s.objects.iter().any(|o| !o.sounding);
            if want.get(l).copied().unwrap_or(0) == 0
                || picked.iter().any(|p| p.background == s.background)
                || (picked.len() >= 5 && with_distractor < 2 && !has_d)
            {
                continue;
            }
            want[l] -= 1;
            with_distractor += usize::from(has_d);
            picked.push(s);
            if picked.len() == 8 {
                break 'search;
            }
        }
    }
    picked.sort_by_key(|s| (s.level, s.split, s.index));
    let tiles: Vec<_> = picked.iter().map(|s| annotate_scene(s, generator.config().vocabulary)).collect();
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    save_png(path, &grid(&tiles, 4, 4, [255, 255, 255]))?;
    Ok(())
}
