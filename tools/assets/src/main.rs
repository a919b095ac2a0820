//! Builds av-data's asset pack (`crates/av-data/assets/`) from offline sources:
//!
//! * `notes/`: for every instrument of `av_data::classes::Instrument`, its anchor notes rendered
//!   from the MIT FluidR3_GM SoundFont with rustysynth (mono, 22 050 Hz, dry), concatenated into
//!   one 16-bit WAV per instrument, plus `notes/index.json` (offsets). `make_asset_pack.sh`
//!   then compresses the WAVs losslessly to FLAC.
//! * `sprites/`: Twemoji SVGs (CC-BY 4.0) and our own SVGs (`tools/assets/svg/`) rasterised with
//!   resvg to RGBA PNGs, cropped to their content, longest side 160 px.
//! * `backgrounds/`: CC0 / public-domain photos from the scikit-image wheel, resized so that the
//!   short side is 320 px (long side cropped to at most 4:3), JPEG quality 88.
//!
//! Usage (see make_asset_pack.sh for the whole procedure):
//! `make-asset-pack --soundfont FluidR3_GM.sf2 --twemoji DIR --skimage DIR --out DIR --wav DIR`

use std::collections::BTreeMap;
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use av_data::classes::Instrument;
use image::{ImageEncoder, RgbImage, imageops::FilterType};
use resvg::{tiny_skia, usvg};
use rustysynth::{SoundFont, Synthesizer, SynthesizerSettings};

/// Sample rate of the note bank (the paper's audio rate).
const RATE: u32 = 22_050;
/// Seconds a melodic note is held before note-off.
const HOLD_S: f32 = 0.9;
/// `HOLD_S` as written to the index (f64, so that JSON shows 0.9).
const HOLD_S_JSON: f64 = 0.9;
/// `DRUM_S` as written to the index.
const DRUM_S_JSON: f64 = 0.7;
/// Seconds rendered after note-off (release tail).
const RELEASE_S: f32 = 0.2;
/// Seconds rendered for a drum hit.
const DRUM_S: f32 = 0.7;
/// MIDI velocity of every note.
const VELOCITY: i32 = 100;
/// Longest side of a sprite in pixels.
const SPRITE_SIDE: f32 = 160.0;
/// Short side of a background photo in pixels.
const BACKGROUND_SHORT: u32 = 320;

/// Where each instrument's picture comes from: a Twemoji code point or one of our own SVGs.
fn sprite_source(inst: Instrument) -> (&'static str, &'static str) {
    match inst {
        Instrument::Accordion => ("twemoji", "1fa97"),
        Instrument::AcousticGuitar => ("twemoji", "1f3b8"),
        Instrument::Banjo => ("twemoji", "1fa95"),
        Instrument::Drum => ("twemoji", "1f941"),
        Instrument::Flute => ("twemoji", "1fa88"),
        Instrument::Horn => ("twemoji", "1f4ef"),
        Instrument::Piano => ("twemoji", "1f3b9"),
        Instrument::Saxophone => ("twemoji", "1f3b7"),
        Instrument::Trumpet => ("twemoji", "1f3ba"),
        Instrument::Violin => ("twemoji", "1f3bb"),
        Instrument::Cello => ("own", "cello"),
        Instrument::Clarinet => ("own", "clarinet"),
        Instrument::Erhu => ("own", "erhu"),
        Instrument::Harmonica => ("own", "harmonica"),
        Instrument::Harp => ("own", "harp"),
        Instrument::Oboe => ("own", "oboe"),
        Instrument::Trombone => ("own", "trombone"),
        Instrument::Tuba => ("own", "tuba"),
        Instrument::Xylophone => ("own", "xylophone"),
    }
}

/// The scikit-image photos used as backgrounds (file in `skimage/data/`, name in the pack).
const PHOTOS: [(&str, &str); 12] = [
    ("astronaut.png", "astronaut"),
    ("brick.png", "brick"),
    ("camera.png", "camera"),
    ("chelsea.png", "chelsea"),
    ("coffee.png", "coffee"),
    ("coins.png", "coins"),
    ("grass.png", "grass"),
    ("gravel.png", "gravel"),
    ("hubble_deep_field.jpg", "hubble_deep_field"),
    ("ihc.png", "immunohistochemistry"),
    ("rocket.jpg", "rocket"),
    ("text.png", "text"),
];

struct Args {
    soundfont: PathBuf,
    twemoji: PathBuf,
    skimage: PathBuf,
    svg: PathBuf,
    out: PathBuf,
    wav: PathBuf,
}

fn parse_args() -> Result<Args> {
    let mut map = BTreeMap::new();
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let v = it.next().with_context(|| format!("missing value after {k}"))?;
        map.insert(k.trim_start_matches("--").to_string(), PathBuf::from(v));
    }
    let mut get = |k: &str| map.remove(k).with_context(|| format!("--{k} is required"));
    Ok(Args {
        soundfont: get("soundfont")?,
        twemoji: get("twemoji")?,
        skimage: get("skimage")?,
        svg: get("svg")?,
        out: get("out")?,
        wav: get("wav")?,
    })
}

fn main() -> Result<()> {
    let args = parse_args()?;
    for d in ["notes", "sprites", "backgrounds"] {
        std::fs::create_dir_all(args.out.join(d))?;
    }
    std::fs::create_dir_all(&args.wav)?;
    render_notes(&args)?;
    render_sprites(&args)?;
    convert_photos(&args)?;
    Ok(())
}

/// Renders every instrument's anchor notes and writes `<wav>/<slug>.wav` + `notes/index.json`.
fn render_notes(args: &Args) -> Result<()> {
    let mut file = File::open(&args.soundfont).with_context(|| format!("{}", args.soundfont.display()))?;
    let font = Arc::new(SoundFont::new(&mut file).map_err(|e| anyhow::anyhow!("soundfont: {e:?}"))?);
    let mut index = serde_json::Map::new();
    for inst in Instrument::ALL {
        let mut settings = SynthesizerSettings::new(RATE as i32);
        settings.enable_reverb_and_chorus = false;
        let mut synth = Synthesizer::new(&font, &settings).map_err(|e| anyhow::anyhow!("synth: {e:?}"))?;
        let patch = inst.gm_patch();
        let channel = if patch.bank == 128 { 9 } else { 0 };
        if patch.bank != 128 {
            synth.process_midi_message(channel, 0xB0, 0x00, 0);
            synth.process_midi_message(channel, 0xC0, i32::from(patch.program), 0);
        }
        let mut samples: Vec<f32> = Vec::new();
        let mut notes = Vec::new();
        for key in inst.anchor_keys() {
            let (hold, release) = if patch.bank == 128 { (DRUM_S, 0.0) } else { (HOLD_S, RELEASE_S) };
            let mut note = Vec::new();
            synth.note_on(channel, i32::from(key), VELOCITY);
            render(&mut synth, hold, &mut note);
            synth.note_off(channel, i32::from(key));
            render(&mut synth, release, &mut note);
            synth.note_off_all(true);
            let mut flush = Vec::new();
            render(&mut synth, 0.05, &mut flush);
            // 5 ms fade-out so that a truncated tail does not click.
            let fade = (0.005 * RATE as f32) as usize;
            let n = note.len();
            for (i, s) in note[n - fade..].iter_mut().enumerate() {
                *s *= 1.0 - (i + 1) as f32 / fade as f32;
            }
            notes.push(serde_json::json!({"key": key, "offset": samples.len(), "len": n}));
            samples.extend_from_slice(&note);
        }
        let peak = samples.iter().fold(0.0f32, |m, s| m.max(s.abs()));
        if peak <= 0.0 {
            bail!("{inst}: the SoundFont rendered silence");
        }
        let gain = 0.89 / peak;
        let path = args.wav.join(format!("{}.wav", inst.slug()));
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: RATE,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(&path, spec)?;
        for s in &samples {
            w.write_sample((s * gain * 32767.0).round().clamp(-32768.0, 32767.0) as i16)?;
        }
        w.finalize()?;
        index.insert(
            inst.slug().to_string(),
            serde_json::json!({
                "bank": patch.bank,
                "program": patch.program,
                "file": format!("{}.flac", inst.slug()),
                "hold_s": if patch.bank == 128 { DRUM_S_JSON } else { HOLD_S_JSON },
                "notes": notes,
            }),
        );
        println!("{:16} {:5.2} s", inst.slug(), samples.len() as f32 / RATE as f32);
    }
    let doc = serde_json::json!({
        "sample_rate": RATE,
        "soundfont": "FluidR3_GM.sf2 (fluid-soundfont-gm 3.1, MIT)",
        "velocity": VELOCITY,
        "instruments": index,
    });
    std::fs::write(args.out.join("notes/index.json"), serde_json::to_string_pretty(&doc)? + "\n")?;
    Ok(())
}

/// Renders `seconds` of the synth's output, mixed to mono, onto `out`.
fn render(synth: &mut Synthesizer, seconds: f32, out: &mut Vec<f32>) {
    let n = (seconds * RATE as f32).round() as usize;
    if n == 0 {
        return;
    }
    let mut left = vec![0.0f32; n];
    let mut right = vec![0.0f32; n];
    synth.render(&mut left, &mut right);
    out.extend(left.iter().zip(&right).map(|(l, r)| 0.5 * (l + r)));
}

/// Rasterises every instrument's SVG to `sprites/<slug>.png`.
fn render_sprites(args: &Args) -> Result<()> {
    for inst in Instrument::ALL {
        let (origin, name) = sprite_source(inst);
        let svg_path = match origin {
            "twemoji" => args.twemoji.join(format!("{name}.svg")),
            _ => args.svg.join(format!("{name}.svg")),
        };
        let data = std::fs::read(&svg_path).with_context(|| format!("{}", svg_path.display()))?;
        let tree = usvg::Tree::from_data(&data, &usvg::Options::default())
            .with_context(|| format!("parse {}", svg_path.display()))?;
        let bounds = tree.root().abs_stroke_bounding_box();
        let scale = SPRITE_SIDE / bounds.width().max(bounds.height());
        let w = (bounds.width() * scale).ceil() as u32 + 2;
        let h = (bounds.height() * scale).ceil() as u32 + 2;
        let mut pixmap = tiny_skia::Pixmap::new(w, h).context("pixmap")?;
        let transform = tiny_skia::Transform::from_row(
            scale,
            0.0,
            0.0,
            scale,
            1.0 - bounds.x() * scale,
            1.0 - bounds.y() * scale,
        );
        resvg::render(&tree, transform, &mut pixmap.as_mut());
        let png = pixmap.encode_png().context("encode png")?;
        let out = args.out.join(format!("sprites/{}.png", inst.slug()));
        std::fs::write(&out, png)?;
        println!("{:16} {w}x{h} from {origin} {name}", inst.slug());
    }
    Ok(())
}

/// Resizes the scikit-image photos to `backgrounds/<name>.jpg`.
fn convert_photos(args: &Args) -> Result<()> {
    for (file, name) in PHOTOS {
        let path = args.skimage.join(file);
        let img = image::open(&path).with_context(|| format!("{}", path.display()))?.to_rgb8();
        let (w, h) = img.dimensions();
        let short = w.min(h);
        let (nw, nh) = (w * BACKGROUND_SHORT / short, h * BACKGROUND_SHORT / short);
        let resized = image::imageops::resize(&img, nw, nh, FilterType::Lanczos3);
        let max_long = BACKGROUND_SHORT * 4 / 3;
        let (cw, ch) = (nw.min(max_long), nh.min(max_long));
        let cropped: RgbImage =
            image::imageops::crop_imm(&resized, (nw - cw) / 2, (nh - ch) / 2, cw, ch).to_image();
        let out = args.out.join(format!("backgrounds/{name}.jpg"));
        write_jpeg(&out, &cropped)?;
        println!("{name:20} {w}x{h} -> {cw}x{ch}");
    }
    Ok(())
}

fn write_jpeg(path: &Path, img: &RgbImage) -> Result<()> {
    let f = BufWriter::new(File::create(path)?);
    image::codecs::jpeg::JpegEncoder::new_with_quality(f, 88).write_image(
        img.as_raw(),
        img.width(),
        img.height(),
        image::ExtendedColorType::Rgb8,
    )?;
    Ok(())
}
