//! The main job: sound source localization in the SoundNet-Flickr protocol (paper §4.3).
//!
//! With no arguments it uses the broad checkpoint this project trained itself
//! (`assets/checkpoints/flickr_broad`, made by `flickr_localize train --plan tools/plans/broad_pretrained_best_neck_timgm.json`),
//! localizes the sounds of built-in demo scenes of the offline benchmark, in-family and
//! out-of-family (picture families, a SoundFont and photos never used in training), writes
//! heatmap overlays and a Markdown report, and prints cIoU@0.5 and AUC beside its own CAMs and
//! the whole-image, centre-box and random baselines.
//!
//! ```text
//! cargo run --release --example flickr_localize                     # demo (default)
//! cargo run --release --example flickr_localize -- train --preset broad --run runs/flickr_train
//! cargo run --release --example flickr_localize -- eval --checkpoint runs/flickr_train/model
//! cargo run --release --example flickr_localize -- generalization --checkpoint runs/flickr_train/model
//! cargo run --release --example flickr_localize -- eval --data /path/to/flickr_test
//! cargo run --release --example flickr_localize -- localize --image frame.jpg --audio clip.wav
//! ```
//! Backend: `--features wgpu` / `--features cuda` and `AV_ALIGN_DEVICE=wgpu|cuda|flex`.

mod cli;
mod commands;

use clap::Parser;

fn main() {
    let args = cli::Args::parse();
    if let Err(e) = commands::run(args) {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}
