//! The committed asset pack (`crates/av-data/assets/`, built by `tools/assets/make_asset_pack.sh`):
//! one note bank per SoundFont (`notes/<font>/`), the sprites of every picture family
//! (`sprites/<family>/`) and the background photos (`backgrounds/`, plus fetched photos in
//! [`cache_dir`]`/backgrounds/` when present), loaded once. SoundFonts that may not be
//! committed are rendered by `tools/assets/fetch_soundfonts.sh` into [`cache_dir`]`/notes/` and
//! loaded beside the pack's own.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::bench::backgrounds::Backgrounds;
use crate::bench::clutter::ClutterBank;
use crate::bench::config::AssetSelection;
use crate::bench::notes::NoteBank;
use crate::bench::sprites::SpriteBank;
use crate::error::{DataError, Result};
use crate::manifest::{hash_file, list_files, sha256_hex};

/// Environment variable that overrides where the asset pack is read from.
pub const ASSETS_ENV: &str = "AV_DATA_ASSETS";

/// The asset directory: `$AV_DATA_ASSETS` when set, else this crate's `assets/` folder.
pub fn default_asset_dir() -> PathBuf {
    std::env::var_os(ASSETS_ENV)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/assets")))
}

/// Environment variable naming the cache of fetched assets (default `$HOME/.cache/av-align`).
pub const CACHE_ENV: &str = "AV_ALIGN_CACHE";

/// Where fetched (never committed) assets are cached: `$AV_ALIGN_CACHE`, else
/// `$HOME/.cache/av-align`, else `.cache/av-align`.
pub fn cache_dir() -> PathBuf {
    if let Some(d) = std::env::var_os(CACHE_ENV) {
        return PathBuf::from(d);
    }
    std::env::var_os("HOME")
        .map(|h| PathBuf::from(h).join(".cache/av-align"))
        .unwrap_or_else(|| PathBuf::from(".cache/av-align"))
}

/// The names of `dir`'s sub-folders, sorted.
pub(crate) fn sub_dirs(dir: &Path) -> Result<Vec<String>> {
    let entries =
        std::fs::read_dir(dir).map_err(|_| DataError::Missing { what: "asset folder", path: dir.into() })?;
    let mut out: Vec<String> = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .filter_map(|e| e.file_name().to_str().map(String::from))
        .collect();
    out.sort();
    Ok(out)
}

/// Everything the generator draws from.
#[derive(Debug, Clone)]
pub struct AssetPack {
    /// Where it was read from.
    pub dir: PathBuf,
    /// Rendered notes at their native 22 050 Hz, one bank per SoundFont (folder name): the
    /// pack's own and the fetched ones of [`cache_dir`]`/notes/` (a pack font wins a name clash).
    pub fonts: BTreeMap<String, NoteBank>,
    /// Sprites of every family and their variants.
    pub sprites: SpriteBank,
    /// Background photos.
    pub backgrounds: Backgrounds,
    /// Clutter pictures (silent non-instruments; empty when the pack has no `clutter/`).
    pub clutter: ClutterBank,
    fingerprint: String,
}

impl AssetPack {
    /// Loads the pack from `dir` (`notes/<font>/`, `sprites/<family>/`, `backgrounds/`) and the
    /// fetched photos of [`cache_dir`], if any.
    ///
    /// # Errors
    /// Any unreadable or inconsistent asset ([`crate::DataError::Missing`],
    /// [`crate::DataError::Audio`], [`crate::DataError::Image`], [`crate::DataError::Asset`]).
    pub fn load(dir: &Path) -> Result<AssetPack> {
        let mut listing = String::new();
        for rel in list_files(dir)? {
            let (_, sha) = hash_file(&dir.join(&rel))?;
            listing.push_str(&format!("{rel} {sha}\n"));
        }
        let mut fonts = BTreeMap::new();
        for font in sub_dirs(&dir.join("notes"))? {
            fonts.insert(font.clone(), NoteBank::load(&dir.join("notes").join(&font))?);
        }
        let fetched_notes = cache_dir().join("notes");
        if fetched_notes.is_dir() {
            for font in sub_dirs(&fetched_notes)? {
                let font_dir = fetched_notes.join(&font);
                if fonts.contains_key(&font) || !font_dir.join("index.json").is_file() {
                    continue;
                }
                fonts.insert(font.clone(), NoteBank::load(&font_dir)?);
                let (_, sha) = hash_file(&font_dir.join("index.json"))?;
                listing.push_str(&format!("{} {sha}\n", font_dir.join("index.json").display()));
            }
        }
        let backgrounds =
            Backgrounds::load(&dir.join("backgrounds"), Some(&cache_dir().join("backgrounds")))?;
        for extra in backgrounds.fetched_index() {
            let (_, sha) = hash_file(extra)?;
            listing.push_str(&format!("{} {sha}\n", extra.display()));
        }
        Ok(AssetPack {
            dir: dir.to_path_buf(),
            fonts,
            sprites: SpriteBank::load(&dir.join("sprites"))?,
            backgrounds,
            clutter: ClutterBank::load(&dir.join("clutter"))?,
            fingerprint: sha256_hex(listing.as_bytes()),
        })
    }

    /// The note bank of SoundFont `font`.
    ///
    /// # Errors
    /// [`DataError::Asset`] when the pack has no such font.
    pub fn font(&self, font: &str) -> Result<&NoteBank> {
        self.fonts.get(font).ok_or_else(|| DataError::Asset {
            name: format!("notes/{font}"),
            detail: format!("no such SoundFont; the pack has {:?}", self.fonts.keys().collect::<Vec<_>>()),
        })
    }

    /// Checks that every family, font and background group `selection` names exists and that
    /// the families picture at least one instrument.
    ///
    /// # Errors
    /// [`DataError::Asset`] naming what is missing (fetched groups say which script fetches them).
    pub fn check_selection(&self, selection: &AssetSelection) -> Result<()> {
        for f in &selection.soundfonts {
            self.font(f)?;
        }
        // `train_soundfonts` are checked when a training scene needs them (Generator::scene).
        let families = self.sprites.families();
        for f in selection.sprite_families.iter().chain(&selection.train_sprite_families) {
            if !families.contains(&f.as_str()) {
                return Err(DataError::Asset {
                    name: format!("sprites/{f}"),
                    detail: format!("no such picture family; the pack has {families:?}"),
                });
            }
        }
        for g in &selection.background_groups {
            self.backgrounds.check_group(g)?;
        }
        Ok(())
    }

    /// Loads the pack from [`default_asset_dir`].
    ///
    /// # Errors
    /// As [`AssetPack::load`].
    pub fn load_default() -> Result<AssetPack> {
        Self::load(&default_asset_dir())
    }

    /// SHA-256 over the pack's file list and checksums: identifies the exact assets a generated
    /// dataset was made from (recorded in its manifest).
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }
}
