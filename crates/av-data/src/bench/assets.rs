//! The committed asset pack (`crates/av-data/assets/`, built by `tools/assets/make_asset_pack.sh`):
//! the note bank, the sprites and the background photos, loaded once.

use std::path::{Path, PathBuf};

use crate::bench::backgrounds::Backgrounds;
use crate::bench::notes::NoteBank;
use crate::bench::sprites::SpriteBank;
use crate::error::Result;
use crate::manifest::{hash_file, list_files, sha256_hex};

/// Environment variable that overrides where the asset pack is read from.
pub const ASSETS_ENV: &str = "AV_DATA_ASSETS";

/// The asset directory: `$AV_DATA_ASSETS` when set, else this crate's `assets/` folder.
pub fn default_asset_dir() -> PathBuf {
    std::env::var_os(ASSETS_ENV)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/assets")))
}

/// Everything the generator draws from.
#[derive(Debug, Clone)]
pub struct AssetPack {
    /// Where it was read from.
    pub dir: PathBuf,
    /// Rendered notes at their native 22 050 Hz.
    pub notes: NoteBank,
    /// Sprites and their variants.
    pub sprites: SpriteBank,
    /// Background photos.
    pub backgrounds: Backgrounds,
    fingerprint: String,
}

impl AssetPack {
    /// Loads the pack from `dir` (`notes/`, `sprites/`, `backgrounds/`).
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
        Ok(AssetPack {
            dir: dir.to_path_buf(),
            notes: NoteBank::load(&dir.join("notes"))?,
            sprites: SpriteBank::load(&dir.join("sprites"))?,
            backgrounds: Backgrounds::load(&dir.join("backgrounds"))?,
            fingerprint: sha256_hex(listing.as_bytes()),
        })
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
