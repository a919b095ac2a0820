//! Builds av-data's asset pack (`crates/av-data/assets/`) from offline sources:
//!
//! * `notes/<font>/`: for every instrument of `av_data::classes::Instrument`, its anchor notes
//!   rendered from a General-MIDI SoundFont with rustysynth (mono, 22 050 Hz, dry), concatenated
//!   into one 16-bit WAV per instrument (`<wav>/<font>/<slug>.wav`), plus `notes/<font>/index.json`
//!   (offsets, the program used). `make_asset_pack.sh` then compresses the WAVs losslessly to FLAC.
//!   `notes/fonts.json` lists the fonts.
//! * `sprites/<family>/<slug>.png`: SVGs of several art styles (Twemoji, Iconify emoji and icon
//!   sets, two sets of our own drawings and two restyled renderings of the first) rasterised with
//!   resvg to RGBA PNGs, cropped to their content, longest side 160 px. `sprites/families.json`
//!   lists the families.
//! * `backgrounds/<name>.jpg`: CC0 / public-domain / CC-BY photos (scikit-image, scikit-learn,
//!   matplotlib and SciPy wheels, Debian lomiri-wallpapers-16.04), resized so that the short side
//!   is 320 px (long side cropped to at most 4:3), JPEG quality 88; `backgrounds/index.json`
//!   lists them with group, split, licence and source.
//!
//! Legacy files (the `twemoji` and `own` sprite families, the `fluidr3_gm` notes and the 12
//! original scikit-image photos) are never overwritten: a shipped model's recorded numbers depend
//! on them. They are only written when absent (pass `--legacy` to allow that).
//!
//! Usage (see make_asset_pack.sh for the whole procedure):
//! `make-asset-pack --out DIR --wav DIR --svg DIR --iconify DIR --photos DIR
//!  --svg-cartoon DIR [--font NAME=FILE.sf2]... [--twemoji DIR] [--legacy]`, or
//! `make-asset-pack --notes-only --out CACHE --font NAME=FILE.sf2...` (the fetched fonts of
//! `fetch_soundfonts.sh`: WAV note banks in `CACHE/notes/<font>/`, never committed).

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

/// A SoundFont of the note bank: pack name, licence, source, description for index.json.
struct Font {
    name: &'static str,
    licence: &'static str,
    source: &'static str,
    soundfont: &'static str,
    legacy: bool,
    /// Fetched at run time by `fetch_soundfonts.sh` into the cache (GPL / CC-BY-SA: never
    /// committed, not listed in the pack's `notes/fonts.json`).
    fetched: bool,
}

const FONTS: [Font; 5] = [
    Font {
        name: "fluidr3_gm",
        licence: "MIT",
        source: "Debian fluid-soundfont-gm 3.1",
        soundfont: "FluidR3_GM.sf2 (fluid-soundfont-gm 3.1, MIT)",
        legacy: true,
        fetched: false,
    },
    Font {
        name: "musescore_general",
        licence: "MIT",
        source: "Debian musescore-general-soundfont-lossless 0.2.1",
        soundfont: "MuseScore_General_Full.sf2 (musescore-general-soundfont-lossless 0.2.1, MIT; parts CC0 / public domain)",
        legacy: false,
        fetched: false,
    },
    Font {
        name: "csound_gmbank",
        licence: "public domain",
        source: "Debian csound-soundfont 6.18.1",
        soundfont: "sf_GMbank.sf2 (csound-soundfont 1:6.18.1+dfsg-1, public domain)",
        legacy: false,
        fetched: false,
    },
    Font {
        name: "timgm6mb",
        licence: "GPL-2",
        source: "Debian timgm6mb-soundfont 1.3",
        soundfont: "TimGM6mb.sf2 (timgm6mb-soundfont 1.3-5, GPL-2, Tim Brechbill)",
        legacy: false,
        fetched: true,
    },
    Font {
        name: "opl3_fm",
        licence: "CC-BY-SA-4.0",
        source: "Debian opl3-soundfont 1.0",
        soundfont: "OPL-3_FM_128M.sf2 (opl3-soundfont 1.0-4, CC-BY-SA-4.0, Zandro Reveille)",
        legacy: false,
        fetched: true,
    },
];

/// Where a sprite family's SVGs come from.
#[derive(Clone, Copy)]
enum Origin {
    /// `--twemoji DIR`, `<code point>.svg`.
    Twemoji,
    /// Our own SVGs (`--svg DIR`), drawn as they are.
    Own,
    /// Our own SVGs restyled by a CSS sheet: line art (no fill, dark stroke).
    OwnLine,
    /// Our own SVGs restyled: one flat colour per instrument with a dark outline.
    OwnFlat,
    /// Our own second set of drawings (`--svg-cartoon DIR`), a chunky cartoon style.
    OwnCartoon,
    /// An Iconify JSON set (`--iconify DIR/<set>/icons.json`); `currentColor` is replaced.
    Iconify(&'static str),
}

/// A sprite family (art style): its pack name, style, licence, source and per-slug icon names.
struct Family {
    name: &'static str,
    style: &'static str,
    licence: &'static str,
    source: &'static str,
    origin: Origin,
    legacy: bool,
    icons: &'static [(&'static str, &'static str)],
}

const OWN_ICONS: &[(&str, &str)] = &[
    ("cello", "cello"),
    ("clarinet", "clarinet"),
    ("erhu", "erhu"),
    ("harmonica", "harmonica"),
    ("harp", "harp"),
    ("oboe", "oboe"),
    ("trombone", "trombone"),
    ("tuba", "tuba"),
    ("xylophone", "xylophone"),
];

/// The ten emoji every colour emoji set has, under Iconify's (Unicode CLDR) names.
const EMOJI10: &[(&str, &str)] = &[
    ("accordion", "accordion"),
    ("acoustic_guitar", "guitar"),
    ("banjo", "banjo"),
    ("drum", "drum"),
    ("flute", "flute"),
    ("horn", "postal-horn"),
    ("piano", "musical-keyboard"),
    ("saxophone", "saxophone"),
    ("trumpet", "trumpet"),
    ("violin", "violin"),
];

/// The seven instrument emoji of the older and monochrome emoji sets (Noto v1, EmojiOne).
const EMOJI7: &[(&str, &str)] = &[
    ("acoustic_guitar", "guitar"),
    ("drum", "drum"),
    ("horn", "postal-horn"),
    ("piano", "musical-keyboard"),
    ("saxophone", "saxophone"),
    ("trumpet", "trumpet"),
    ("violin", "violin"),
];

const FAMILIES: &[Family] = &[
    Family {
        name: "twemoji",
        style: "flat colour emoji",
        licence: "CC-BY-4.0",
        source: "npm @twemoji/svg@15.0.0",
        origin: Origin::Twemoji,
        legacy: true,
        icons: &[
            ("accordion", "1fa97"),
            ("acoustic_guitar", "1f3b8"),
            ("banjo", "1fa95"),
            ("drum", "1f941"),
            ("flute", "1fa88"),
            ("horn", "1f4ef"),
            ("piano", "1f3b9"),
            ("saxophone", "1f3b7"),
            ("trumpet", "1f3ba"),
            ("violin", "1f3bb"),
        ],
    },
    Family {
        name: "own",
        style: "flat colour drawing with outlines",
        licence: "CC0-1.0",
        source: "av-align tools/assets/svg",
        origin: Origin::Own,
        legacy: true,
        icons: OWN_ICONS,
    },
    Family {
        name: "own_line",
        style: "line art (our drawings, no fill, dark stroke)",
        licence: "CC0-1.0",
        source: "av-align tools/assets/svg, restyled",
        origin: Origin::OwnLine,
        legacy: false,
        icons: OWN_ICONS,
    },
    Family {
        name: "own_flat",
        style: "single-colour silhouette with dark outlines (our drawings)",
        licence: "CC0-1.0",
        source: "av-align tools/assets/svg, restyled",
        origin: Origin::OwnFlat,
        legacy: false,
        icons: OWN_ICONS,
    },
    Family {
        name: "own_cartoon",
        style: "cartoon drawings, thick dark outlines, tilted (our second set of drawings)",
        licence: "CC0-1.0",
        source: "av-align tools/assets/svg_cartoon",
        origin: Origin::OwnCartoon,
        legacy: false,
        icons: OWN_ICONS,
    },
    Family {
        name: "noto",
        style: "colour emoji with soft shading (Google Noto)",
        licence: "Apache-2.0",
        source: "npm @iconify-json/noto@1.2.9 (googlefonts/noto-emoji)",
        origin: Origin::Iconify("noto"),
        legacy: false,
        icons: &[
            ("accordion", "accordion"),
            ("acoustic_guitar", "guitar"),
            ("banjo", "banjo"),
            ("drum", "drum"),
            ("flute", "flute"),
            ("harp", "harp"),
            ("horn", "postal-horn"),
            ("piano", "musical-keyboard"),
            ("saxophone", "saxophone"),
            ("trombone", "trombone"),
            ("trumpet", "trumpet"),
            ("violin", "violin"),
        ],
    },
    Family {
        name: "noto_v1",
        style: "older Noto colour emoji (flat, bold outlines)",
        licence: "Apache-2.0",
        source: "npm @iconify-json/noto-v1@1.2.5 (googlefonts/noto-emoji)",
        origin: Origin::Iconify("noto-v1"),
        legacy: false,
        icons: EMOJI7,
    },
    Family {
        name: "fluent_flat",
        style: "flat colour emoji (Microsoft Fluent, flat)",
        licence: "MIT",
        source: "npm @iconify-json/fluent-emoji-flat@1.2.6 (microsoft/fluentui-emoji)",
        origin: Origin::Iconify("fluent-emoji-flat"),
        legacy: false,
        icons: EMOJI10,
    },
    Family {
        name: "fluent_color",
        style: "gradient-shaded pseudo-3D colour emoji (Microsoft Fluent, color)",
        licence: "MIT",
        source: "npm @iconify-json/fluent-emoji@1.2.7 (microsoft/fluentui-emoji)",
        origin: Origin::Iconify("fluent-emoji"),
        legacy: false,
        icons: EMOJI10,
    },
    Family {
        name: "fluent_hc",
        style: "monochrome high-contrast glyphs (Microsoft Fluent, high contrast), near-black",
        licence: "MIT",
        source: "npm @iconify-json/fluent-emoji-high-contrast@1.2.6 (microsoft/fluentui-emoji)",
        origin: Origin::Iconify("fluent-emoji-high-contrast"),
        legacy: false,
        icons: EMOJI10,
    },
    Family {
        name: "fxemoji",
        style: "colour emoji with strong gradients (Firefox OS)",
        licence: "Apache-2.0",
        source: "npm @iconify-json/fxemoji@1.2.2 (mozilla/fxemoji)",
        origin: Origin::Iconify("fxemoji"),
        legacy: false,
        icons: &[
            ("acoustic_guitar", "guitar"),
            ("horn", "postalhorn"),
            ("piano", "musicalkeyboard"),
            ("saxophone", "saxophone"),
            ("trumpet", "trumpet"),
            ("violin", "violin"),
        ],
    },
    Family {
        name: "emojione",
        style: "colour emoji, flat with highlights (EmojiOne 2 / Emojitwo)",
        licence: "CC-BY-4.0",
        source: "npm @iconify-json/emojione@1.2.3 (EmojiTwo/emojitwo)",
        origin: Origin::Iconify("emojione"),
        legacy: false,
        icons: EMOJI7,
    },
    Family {
        name: "game_icons",
        style: "filled silhouettes in one dark colour per instrument (game-icons.net)",
        licence: "CC-BY-3.0",
        source: "npm @iconify-json/game-icons@1.2.4 (game-icons/icons: Lorc, Delapouite et al.)",
        origin: Origin::Iconify("game-icons"),
        legacy: false,
        icons: &[
            ("accordion", "accordion"),
            ("acoustic_guitar", "guitar"),
            ("banjo", "banjo"),
            ("clarinet", "clarinet"),
            ("drum", "drum"),
            ("flute", "flute"),
            ("harp", "harp"),
            ("horn", "french-horn"),
            ("piano", "grand-piano"),
            ("saxophone", "saxophone"),
            ("trombone", "trombone"),
            ("trumpet", "trumpet"),
            ("tuba", "tuba"),
            ("violin", "violin"),
            ("xylophone", "xylophone"),
        ],
    },
    Family {
        name: "mdi",
        style: "flat monochrome UI glyphs (Material Design Icons), one dark colour per instrument",
        licence: "Apache-2.0",
        source: "npm @iconify-json/mdi@1.2.3 (Templarian/MaterialDesign)",
        origin: Origin::Iconify("mdi"),
        legacy: false,
        icons: &[
            ("acoustic_guitar", "guitar-acoustic"),
            ("piano", "piano"),
            ("saxophone", "saxophone"),
            ("trumpet", "trumpet"),
        ],
    },
    // Training-only families (`AssetSelection::train_sprite_families` in av-data): validation
    // and test scenes never draw them, so adding them changes no evaluation set. All come from
    // the pinned full Iconify collection `@iconify/json@2.2.553` (see make_asset_pack.sh).
    Family {
        name: "iconoven",
        style: "outlined UI icons, one dark stroke, no fill (IconOven)",
        licence: "MIT",
        source: "npm @iconify/json@2.2.553 json/iconoven.json (Appic Marketing, iconoven.com)",
        origin: Origin::Iconify("iconoven"),
        legacy: false,
        icons: ICONOVEN,
    },
    Family {
        name: "qlementine",
        style: "small outlined UI glyphs, one dark colour (Qlementine icons; its guitar, banjo, cello and violin show only a headstock and are left out)",
        licence: "MIT",
        source: "npm @iconify/json@2.2.553 json/qlementine-icons.json (Olivier Clero)",
        origin: Origin::Iconify("qlementine-icons"),
        legacy: false,
        icons: &[
            ("accordion", "accordion-16"),
            ("drum", "drumkit-24"),
            ("harmonica", "harmonica-16"),
            ("harp", "harp-16"),
            ("piano", "piano-24"),
            ("saxophone", "saxophone-24"),
            ("trombone", "trombone-16"),
            ("trumpet", "trumpet-24"),
            ("tuba", "tuba-16"),
        ],
    },
    Family {
        name: "dinkie",
        style: "pixel-art glyphs, one dark colour (Dinkie Icons)",
        licence: "MIT",
        source: "npm @iconify/json@2.2.553 json/dinkie-icons.json (atelier-anchor)",
        origin: Origin::Iconify("dinkie-icons"),
        legacy: false,
        icons: &[
            ("accordion", "accordion"),
            ("acoustic_guitar", "guitar"),
            ("banjo", "banjo"),
            ("drum", "drum-with-drumsticks"),
            ("piano", "musical-keyboard"),
            ("saxophone", "saxophone"),
            ("trumpet", "trumpet"),
            ("violin", "violin"),
        ],
    },
    Family {
        name: "iconmind",
        style: "duotone UI icons, bold outline over a pale fill (IconMind; its accordion reads as a list glyph and is left out)",
        licence: "MIT",
        source: "npm @iconify/json@2.2.553 json/iconmind.json",
        origin: Origin::Iconify("iconmind"),
        legacy: false,
        icons: &[
            ("acoustic_guitar", "guitar-duotone-bold"),
            ("drum", "drum-duotone-bold"),
            ("flute", "flute-duotone-bold"),
            ("piano", "piano-duotone-bold"),
            ("trumpet", "trumpet-duotone-bold"),
            ("violin", "violin-duotone-bold"),
        ],
    },
    Family {
        name: "emojione_mono",
        style: "monochrome emoji glyphs with white detail (EmojiOne monotone)",
        licence: "CC-BY-4.0",
        source: "npm @iconify/json@2.2.553 json/emojione-monotone.json (EmojiOne)",
        origin: Origin::Iconify("emojione-monotone"),
        legacy: false,
        icons: EMOJI7,
    },
    Family {
        name: "streamline_emojis",
        style: "flat colour emoji with thick dark outlines (Streamline emojis)",
        licence: "CC-BY-4.0",
        source: "npm @iconify/json@2.2.553 json/streamline-emojis.json (Streamline)",
        origin: Origin::Iconify("streamline-emojis"),
        legacy: false,
        icons: &[
            ("acoustic_guitar", "guitar"),
            ("piano", "musical-keyboard"),
            ("saxophone", "saxophone"),
            ("trumpet", "trumpet"),
            ("violin", "violin"),
        ],
    },
];

/// IconOven's instruments: every class of both vocabularies but the erhu.
const ICONOVEN: &[(&str, &str)] = &[
    ("accordion", "accordion"),
    ("acoustic_guitar", "guitar"),
    ("banjo", "banjo"),
    ("cello", "cello"),
    ("clarinet", "clarinet"),
    ("drum", "drum"),
    ("flute", "flute"),
    ("harmonica", "harmonica"),
    ("harp", "harp"),
    ("horn", "french-horn"),
    ("oboe", "oboe"),
    ("piano", "grand-piano"),
    ("saxophone", "saxophone"),
    ("trombone", "trombone"),
    ("trumpet", "trumpet"),
    ("tuba", "tuba"),
    ("violin", "violin"),
    ("xylophone", "xylophone"),
];

/// Dark colours for monochrome icon sets (picked per instrument).
const DARK: [&str; 5] = ["#1f1f1f", "#2d3a64", "#5a2318", "#1f4d2b", "#4a3320"];
/// Flat fill colours for `own_flat` (picked per instrument).
const FLAT: [&str; 6] = ["#c8782a", "#3f7fbf", "#b8434b", "#4c9a5a", "#8a5fb0", "#d1a623"];

/// A background photo: pack name, file under `--photos` (or the skimage dir), group, split,
/// licence, source.
struct Photo {
    name: &'static str,
    file: &'static str,
    group: &'static str,
    split: &'static str,
    licence: &'static str,
    source: &'static str,
    legacy: bool,
}

const fn photo(
    name: &'static str,
    file: &'static str,
    group: &'static str,
    split: &'static str,
    licence: &'static str,
    source: &'static str,
    legacy: bool,
) -> Photo {
    Photo { name, file, group, split, licence, source, legacy }
}

const SKI: &str = "scikit-image 0.26.0";
/// The committed Lomiri photos form the out-of-family test set's background group: no training
/// scene of the broad benchmark uses them (`AssetSelection::held_out` in av-data).
const HELD_OUT: &str = "held_out";
const LOMIRI_SRC: &str = "Debian lomiri-wallpapers-16.04 20.04.0-2";

/// The photos: the 12 legacy scikit-image photos first (this order is part of the format), then
/// the additions. `file` is relative to `--photos` (make_asset_pack.sh stages them there).
#[rustfmt::skip]
const PHOTOS: &[Photo] = &[
    photo("astronaut", "skimage/astronaut.png", "skimage", "train", "public domain (NASA)", SKI, true),
    photo("brick", "skimage/brick.png", "skimage", "train", "CC0", SKI, true),
    photo("camera", "skimage/camera.png", "skimage", "train", "CC0", SKI, true),
    photo("coffee", "skimage/coffee.png", "skimage", "train", "CC0", SKI, true),
    photo("grass", "skimage/grass.png", "skimage", "train", "CC0", SKI, true),
    photo("hubble_deep_field", "skimage/hubble_deep_field.jpg", "skimage", "train", "public domain (NASA)", SKI, true),
    photo("immunohistochemistry", "skimage/ihc.png", "skimage", "train", "public domain", SKI, true),
    photo("text", "skimage/text.png", "skimage", "train", "public domain", SKI, true),
    photo("coins", "skimage/coins.png", "skimage", "val", "public domain", SKI, true),
    photo("rocket", "skimage/rocket.jpg", "skimage", "val", "public domain (SpaceX)", SKI, true),
    photo("chelsea", "skimage/chelsea.png", "skimage", "test", "CC0", SKI, true),
    photo("gravel", "skimage/gravel.png", "skimage", "test", "CC0", SKI, true),
    photo("clock", "skimage/clock_motion.png", "skimage", "train", "public domain (Stefan van der Walt)", SKI, false),
    photo("cell", "skimage/cell.png", "skimage", "train", "CC0", SKI, false),
    photo("retina", "skimage/retina.jpg", "skimage", "train", "CC0 (Mikael Häggström)", SKI, false),
    photo("grace_hopper", "matplotlib/grace_hopper.jpg", "matplotlib", "train", "public domain (US Navy)", "matplotlib 3.10.7 (mpl-data/sample_data)", false),
    photo("flower", "sklearn/flower.jpg", "sklearn", "train", "CC-BY-2.0 (vultilion, Flickr)", "scikit-learn 1.7.2 (sklearn/datasets/images)", false),
    photo("raccoon_face", "scipy/face.ppm", "scipy", "val", "public domain (public-domain-image.com)", "scipy 1.10.1 (scipy/misc/face.dat)", false),
    photo("china", "sklearn/china.jpg", "sklearn", "test", "CC-BY-2.0 (danielbuechele, Flickr)", "scikit-learn 1.7.2 (sklearn/datasets/images)", false),
    photo("lomiri_aitzgorri", "lomiri/aitzgorri_by_Aitzol_Berasategi.jpg", HELD_OUT, "val", "CC-BY-4.0 (Aitzol Berasategi)", LOMIRI_SRC, false),
    photo("lomiri_friends", "lomiri/friends_by_Aitzol_Berasategi.jpg", HELD_OUT, "val", "CC-BY-4.0 (Aitzol Berasategi)", LOMIRI_SRC, false),
    photo("lomiri_life", "lomiri/life_by_Aitzol_Berasategi.jpg", HELD_OUT, "test", "CC-BY-4.0 (Aitzol Berasategi)", LOMIRI_SRC, false),
    photo("lomiri_picture_0b", "lomiri/Picture_0B_by_freespace.jpg", HELD_OUT, "test", "CC-BY-4.0 (freespace)", LOMIRI_SRC, false),
    photo("lomiri_picture_1a", "lomiri/Picture_1A_by_freespace.jpg", HELD_OUT, "test", "CC-BY-4.0 (freespace)", LOMIRI_SRC, false),
    photo("lomiri_sunset", "lomiri/sunset_by_Aitzol_Berasategi.jpg", HELD_OUT, "test", "CC-BY-4.0 (Aitzol Berasategi)", LOMIRI_SRC, false),
    photo("lomiri_picosdeeuropa", "lomiri/picosdeeuropa_by_Aitzol_Berasategi.jpg", HELD_OUT, "test", "CC-BY-4.0 (Aitzol Berasategi)", LOMIRI_SRC, false),
    photo("lomiri_seeding", "lomiri/seeding_by_Clements_Engelhardt.jpg", HELD_OUT, "test", "CC0-1.0 (Clements Engelhardt)", LOMIRI_SRC, false),
    photo("lomiri_wine", "lomiri/Wine_by_Jakkub_Mede.jpg", HELD_OUT, "test", "CC-BY-4.0 (Jakkub Mede)", LOMIRI_SRC, false),
];

struct Args {
    fonts: Vec<(String, PathBuf)>,
    twemoji: Option<PathBuf>,
    iconify: Option<PathBuf>,
    photos: Option<PathBuf>,
    svg: PathBuf,
    svg_cartoon: Option<PathBuf>,
    out: PathBuf,
    wav: PathBuf,
    legacy: bool,
    /// Only render `--font`s, as 16-bit WAV straight into `<out>/notes/<font>/` (the fetched
    /// fonts' cache; no sprites, photos or FLAC step).
    notes_only: bool,
}

fn parse_args() -> Result<Args> {
    let mut map = BTreeMap::new();
    let mut fonts = Vec::new();
    let mut legacy = false;
    let mut notes_only = false;
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        if k == "--legacy" {
            legacy = true;
            continue;
        }
        if k == "--notes-only" {
            notes_only = true;
            continue;
        }
        let v = it.next().with_context(|| format!("missing value after {k}"))?;
        if k == "--font" {
            let (name, path) = v.split_once('=').context("--font NAME=FILE.sf2")?;
            if !FONTS.iter().any(|f| f.name == name) {
                bail!("unknown font {name}");
            }
            if FONTS.iter().any(|f| f.name == name && f.fetched) && !notes_only {
                bail!(
                    "{name} may not be committed: render it with --notes-only into the cache (fetch_soundfonts.sh)"
                );
            }
            fonts.push((name.to_string(), PathBuf::from(path)));
        } else {
            map.insert(k.trim_start_matches("--").to_string(), PathBuf::from(v));
        }
    }
    let svg = if notes_only {
        map.remove("svg").unwrap_or_default()
    } else {
        map.remove("svg").context("--svg is required")?
    };
    let out = map.remove("out").context("--out is required")?;
    let wav = if notes_only { out.join("notes") } else { map.remove("wav").context("--wav is required")? };
    let args = Args {
        fonts,
        twemoji: map.remove("twemoji"),
        iconify: map.remove("iconify"),
        photos: map.remove("photos"),
        svg,
        svg_cartoon: map.remove("svg-cartoon"),
        out,
        wav,
        legacy,
        notes_only,
    };
    if let Some(k) = map.keys().next() {
        bail!("unknown argument --{k}");
    }
    Ok(args)
}

/// Whether a legacy file must be left alone (it exists, or `--legacy` was not given).
fn keep_legacy(args: &Args, path: &Path) -> bool {
    !args.legacy || path.exists()
}

fn main() -> Result<()> {
    let args = parse_args()?;
    if args.notes_only {
        for (name, path) in &args.fonts {
            let font = FONTS.iter().find(|f| f.name == name).expect("checked");
            render_notes(&args, font, path)?;
        }
        return Ok(());
    }
    for d in ["notes", "sprites", "backgrounds"] {
        std::fs::create_dir_all(args.out.join(d))?;
    }
    std::fs::create_dir_all(&args.wav)?;
    for (name, path) in &args.fonts {
        let font = FONTS.iter().find(|f| f.name == name).expect("checked");
        render_notes(&args, font, path)?;
    }
    write_fonts_json(&args)?;
    render_sprites(&args)?;
    render_clutter(&args)?;
    if args.photos.is_some() {
        convert_photos(&args)?;
    }
    Ok(())
}

fn write_json(path: &Path, doc: &serde_json::Value) -> Result<()> {
    std::fs::write(path, serde_json::to_string_pretty(doc)? + "\n")?;
    Ok(())
}

fn write_fonts_json(args: &Args) -> Result<()> {
    let fonts: Vec<_> = FONTS
        .iter()
        .filter(|f| !f.fetched)
        .map(|f| serde_json::json!({"name": f.name, "licence": f.licence, "source": f.source}))
        .collect();
    write_json(&args.out.join("notes/fonts.json"), &serde_json::json!({"fonts": fonts}))
}

/// The program actually used for `program` in `font`: itself if the font has it, else the
/// nearest present program of the same GM family (8 programs), else the nearest present one.
fn resolve_program(font: &SoundFont, program: u8) -> Result<u8> {
    let has = |p: u8| {
        font.get_presets().iter().any(|x| x.get_bank_number() == 0 && x.get_patch_number() == i32::from(p))
    };
    if has(program) {
        return Ok(program);
    }
    let family = program / 8;
    let mut cands: Vec<u8> = (0..128u8).filter(|&p| has(p)).collect();
    cands.sort_by_key(|&p| (p / 8 != family, (i32::from(p) - i32::from(program)).abs()));
    cands.first().copied().with_context(|| format!("no bank-0 preset near program {program}"))
}

/// Renders every instrument's anchor notes with `font_path`: `<wav>/<font>/<slug>.wav` +
/// `notes/<font>/index.json`. Skips a legacy font whose index exists.
fn render_notes(args: &Args, font: &Font, font_path: &Path) -> Result<()> {
    let dir = args.out.join("notes").join(font.name);
    if font.legacy && keep_legacy(args, &dir.join("index.json")) {
        println!("notes/{}: legacy, kept as is", font.name);
        return Ok(());
    }
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    std::fs::create_dir_all(&dir)?;
    let wav_dir = args.wav.join(font.name);
    std::fs::create_dir_all(&wav_dir)?;
    // The pack stores FLAC (make_asset_pack.sh compresses the WAVs); the fetched cache keeps WAV.
    let ext = if args.notes_only { "wav" } else { "flac" };
    let mut file = File::open(font_path).with_context(|| format!("{}", font_path.display()))?;
    let sf = Arc::new(SoundFont::new(&mut file).map_err(|e| anyhow::anyhow!("soundfont: {e:?}"))?);
    let has_drums = sf.get_presets().iter().any(|x| x.get_bank_number() == 128);
    let mut index = serde_json::Map::new();
    for inst in Instrument::ALL {
        let mut settings = SynthesizerSettings::new(RATE as i32);
        settings.enable_reverb_and_chorus = false;
        let mut synth = Synthesizer::new(&sf, &settings).map_err(|e| anyhow::anyhow!("synth: {e:?}"))?;
        let patch = inst.gm_patch();
        let channel = if patch.bank == 128 { 9 } else { 0 };
        let mut program = patch.program;
        if patch.bank == 128 {
            if !has_drums {
                bail!("{}: no percussion kit (bank 128)", font.name);
            }
        } else {
            program = resolve_program(&sf, patch.program)?;
            synth.process_midi_message(channel, 0xB0, 0x00, 0);
            synth.process_midi_message(channel, 0xC0, i32::from(program), 0);
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
            bail!("{}/{inst}: the SoundFont rendered silence", font.name);
        }
        let gain = 0.89 / peak;
        let path = wav_dir.join(format!("{}.wav", inst.slug()));
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
        let mut entry = serde_json::json!({
            "bank": patch.bank,
            "program": program,
            "file": format!("{}.{ext}", inst.slug()),
            "hold_s": if patch.bank == 128 { DRUM_S_JSON } else { HOLD_S_JSON },
            "notes": notes,
        });
        if program != patch.program {
            entry["fallback_from_program"] = serde_json::json!(patch.program);
            println!("{}/{}: program {} missing, using {program}", font.name, inst.slug(), patch.program);
        }
        index.insert(inst.slug().to_string(), entry);
        println!("{:18} {:16} {:5.2} s", font.name, inst.slug(), samples.len() as f32 / RATE as f32);
    }
    let doc = serde_json::json!({
        "sample_rate": RATE,
        "soundfont": font.soundfont,
        "velocity": VELOCITY,
        "instruments": index,
    });
    write_json(&dir.join("index.json"), &doc)
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

/// Index of `slug` in `Instrument::ALL` (colour picks).
fn slug_index(slug: &str) -> usize {
    Instrument::ALL.iter().position(|i| i.slug() == slug).expect("known slug")
}

/// Inserts a CSS sheet right after the root `<svg ...>` tag (CSS rules override the drawings'
/// presentation attributes in usvg, as in browsers).
fn with_style(svg: &str, css: &str) -> Result<String> {
    let start = svg.find("<svg").context("no <svg>")?;
    let end = start + svg[start..].find('>').context("no >")? + 1;
    Ok(format!("{}<style>{css}</style>{}", &svg[..end], &svg[end..]))
}

/// Loads (and caches) an Iconify set's icons.json.
fn iconify_set<'a>(
    args: &Args,
    cache: &'a mut BTreeMap<&'static str, serde_json::Value>,
    set: &'static str,
) -> Result<&'a serde_json::Value> {
    if !cache.contains_key(set) {
        let dir = args.iconify.as_ref().context("--iconify is required")?;
        let path = dir.join(set).join("icons.json");
        let text = std::fs::read_to_string(&path).with_context(|| format!("{}", path.display()))?;
        cache.insert(set, serde_json::from_str(&text)?);
    }
    Ok(&cache[set])
}

/// An Iconify icon as a standalone SVG document (aliases resolved; `currentColor` -> `colour`).
fn iconify_svg(set: &serde_json::Value, name: &str, colour: &str) -> Result<String> {
    let mut name = name.to_string();
    for _ in 0..4 {
        if set["icons"].get(&name).is_some() {
            break;
        }
        match set["aliases"].get(&name).and_then(|a| a["parent"].as_str()) {
            Some(p) => name = p.to_string(),
            None => bail!("icon {name} not in set"),
        }
    }
    let icon = &set["icons"][&name];
    let dim = |k: &str| icon[k].as_f64().or_else(|| set[k].as_f64()).unwrap_or(16.0);
    let (left, top) = (icon["left"].as_f64().unwrap_or(0.0), icon["top"].as_f64().unwrap_or(0.0));
    let body = icon["body"].as_str().context("no body")?.replace("currentColor", colour);
    Ok(format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" xmlns:xlink=\"http://www.w3.org/1999/xlink\" \
         viewBox=\"{left} {top} {} {}\">{body}</svg>",
        dim("width"),
        dim("height")
    ))
}

/// Rasterises every family's SVGs to `sprites/<family>/<slug>.png` and writes
/// `sprites/families.json`. Legacy families are kept as they are.
fn render_sprites(args: &Args) -> Result<()> {
    let mut sets = BTreeMap::new();
    let mut listed = Vec::new();
    for fam in FAMILIES {
        listed.push(serde_json::json!({
            "name": fam.name,
            "style": fam.style,
            "licence": fam.licence,
            "source": fam.source,
        }));
        let dir = args.out.join("sprites").join(fam.name);
        if fam.legacy {
            if fam.icons.iter().all(|(slug, _)| keep_legacy(args, &dir.join(format!("{slug}.png")))) {
                println!("sprites/{}: legacy, kept as is", fam.name);
                continue;
            }
        } else if dir.exists() {
            std::fs::remove_dir_all(&dir)?;
        }
        std::fs::create_dir_all(&dir)?;
        for &(slug, name) in fam.icons {
            let out = dir.join(format!("{slug}.png"));
            if fam.legacy && keep_legacy(args, &out) {
                continue;
            }
            let own = || -> Result<String> {
                let p = args.svg.join(format!("{name}.svg"));
                std::fs::read_to_string(&p).with_context(|| format!("{}", p.display()))
            };
            let svg = match fam.origin {
                Origin::Twemoji => {
                    let p =
                        args.twemoji.as_ref().context("--twemoji is required")?.join(format!("{name}.svg"));
                    std::fs::read_to_string(&p).with_context(|| format!("{}", p.display()))?
                }
                Origin::Own => own()?,
                Origin::OwnCartoon => {
                    let dir = args.svg_cartoon.as_ref().context("--svg-cartoon is required")?;
                    let p = dir.join(format!("{name}.svg"));
                    std::fs::read_to_string(&p).with_context(|| format!("{}", p.display()))?
                }
                Origin::OwnLine => with_style(
                    &own()?,
                    "* { fill: none !important; stroke: #262626; stroke-width: 1.7; \
                     stroke-linejoin: round; stroke-linecap: round }",
                )?,
                Origin::OwnFlat => with_style(
                    &own()?,
                    &format!(
                        "* {{ fill: {} !important; stroke: #1b1b1b; stroke-width: 1.3; \
                         stroke-linejoin: round }}",
                        FLAT[slug_index(slug) % FLAT.len()]
                    ),
                )?,
                Origin::Iconify(set) => {
                    let colour = if set == "fluent-emoji-high-contrast" {
                        "#1f1f1f"
                    } else {
                        DARK[slug_index(slug) % DARK.len()]
                    };
                    iconify_svg(iconify_set(args, &mut sets, set)?, name, colour)?
                }
            };
            let (w, h) = rasterise(svg.as_bytes(), &out).with_context(|| format!("{}/{slug}", fam.name))?;
            println!("{:14} {slug:16} {w}x{h} from {name}", fam.name);
        }
    }
    write_json(&args.out.join("sprites/families.json"), &serde_json::json!({"families": listed}))
}

/// Icon sets of the clutter pictures: Iconify set, file prefix, licence.
const CLUTTER_SETS: &[(&str, &str, &str)] = &[
    ("noto", "noto", "Apache-2.0"),
    ("fluent-emoji-flat", "fluent", "MIT"),
    ("twemoji", "twemoji", "CC-BY-4.0"),
    ("mdi", "mdi", "Apache-2.0"),
    ("iconoven", "iconoven", "MIT"),
];

/// Things that make no sound of the vocabulary, under the same Iconify name in every clutter set.
#[rustfmt::skip]
const CLUTTER_NAMES: &[&str] = &[
    "dog", "cat", "bird", "horse", "cow", "rabbit", "duck", "owl", "man", "woman", "chair", "books",
    "bicycle", "umbrella", "camera", "backpack", "teddy-bear", "hammer", "scissors", "cactus",
];

/// Rasterises the clutter pictures (silent, non-instrument things that training scenes may paint
/// onto the background: `Augment::clutter` in av-data) to `clutter/<set>_<name>.png` and writes
/// `clutter/index.json`.
fn render_clutter(args: &Args) -> Result<()> {
    let dir = args.out.join("clutter");
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    std::fs::create_dir_all(&dir)?;
    let mut sets = BTreeMap::new();
    let mut listed = Vec::new();
    for &(set, prefix, licence) in CLUTTER_SETS {
        for (i, name) in CLUTTER_NAMES.iter().enumerate() {
            let file = format!("{prefix}_{name}.png");
            let svg = iconify_svg(iconify_set(args, &mut sets, set)?, name, DARK[i % DARK.len()])?;
            let (w, h) = rasterise(svg.as_bytes(), &dir.join(&file)).with_context(|| file.clone())?;
            println!("clutter {file:28} {w}x{h}");
            listed.push(serde_json::json!({
                "file": file,
                "name": name,
                "set": set,
                "licence": licence,
            }));
        }
    }
    let source = "npm @iconify/json@2.2.553 (json/<set>.json)";
    write_json(&dir.join("index.json"), &serde_json::json!({"source": source, "pictures": listed}))
}

/// Rasterises an SVG document, cropped to its content with a 1 px margin, longest side 160 px.
fn rasterise(data: &[u8], out: &Path) -> Result<(u32, u32)> {
    let tree = usvg::Tree::from_data(data, &usvg::Options::default()).context("parse svg")?;
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
    std::fs::write(out, png)?;
    Ok((w, h))
}

/// Resizes the photos to `backgrounds/<name>.jpg` and writes `backgrounds/index.json`. The
/// legacy photos' JPEGs are kept as they are.
fn convert_photos(args: &Args) -> Result<()> {
    let dir = args.photos.as_ref().context("--photos is required")?;
    let mut listed = Vec::new();
    for p in PHOTOS {
        listed.push(serde_json::json!({
            "name": p.name,
            "group": p.group,
            "split": p.split,
            "licence": p.licence,
            "source": p.source,
        }));
        let out = args.out.join(format!("backgrounds/{}.jpg", p.name));
        if p.legacy && keep_legacy(args, &out) {
            continue;
        }
        let path = dir.join(p.file);
        let img = image::open(&path).with_context(|| format!("{}", path.display()))?.to_rgb8();
        let (w, h) = img.dimensions();
        let short = w.min(h);
        let (nw, nh) = (w * BACKGROUND_SHORT / short, h * BACKGROUND_SHORT / short);
        let resized = image::imageops::resize(&img, nw, nh, FilterType::Lanczos3);
        let max_long = BACKGROUND_SHORT * 4 / 3;
        let (cw, ch) = (nw.min(max_long), nh.min(max_long));
        let cropped: RgbImage =
            image::imageops::crop_imm(&resized, (nw - cw) / 2, (nh - ch) / 2, cw, ch).to_image();
        write_jpeg(&out, &cropped)?;
        println!("{:20} {w}x{h} -> {cw}x{ch}", p.name);
    }
    write_json(&args.out.join("backgrounds/index.json"), &serde_json::json!({"photos": listed}))
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
