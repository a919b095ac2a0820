//! Our own checkpoints: Burn's native format (burnpack, `.bpk`) next to the config JSON that
//! built the module, both written atomically (temporary file, then rename), so an interrupted
//! save never leaves a half-written checkpoint behind.

use std::path::{Path, PathBuf};

use burn::config::Config;
use burn::store::{BurnpackStore, ModuleSnapshot};

use crate::error::{BackboneError, Result};

/// The two files of a checkpoint named `name` in `dir`: `name.bpk` and `name.json`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointPaths {
    /// Weights (burnpack).
    pub weights: PathBuf,
    /// The config that builds the module.
    pub config: PathBuf,
}

impl CheckpointPaths {
    /// Paths of checkpoint `name` in `dir`.
    pub fn new(dir: impl AsRef<Path>, name: &str) -> Self {
        let dir = dir.as_ref();
        Self { weights: dir.join(format!("{name}.bpk")), config: dir.join(format!("{name}.json")) }
    }
}

fn io(path: &Path, e: impl std::fmt::Display) -> BackboneError {
    BackboneError::Io { path: path.to_path_buf(), detail: e.to_string() }
}

/// Saves `module` and the `config` that built it as checkpoint `name` in `dir` (created if
/// needed). The config is written last, so a config file always has its weights.
///
/// # Errors
/// [`BackboneError::Io`] when a file cannot be written.
pub fn save_checkpoint<M: ModuleSnapshot, C: Config>(
    module: &M,
    config: &C,
    dir: impl AsRef<Path>,
    name: &str,
) -> Result<CheckpointPaths> {
    let paths = CheckpointPaths::new(&dir, name);
    std::fs::create_dir_all(dir.as_ref()).map_err(|e| io(dir.as_ref(), e))?;
    let tmp_weights = paths.weights.with_extension("bpk.tmp");
    let mut store = BurnpackStore::from_file(&tmp_weights).overwrite(true);
    module.save_into(&mut store).map_err(|e| io(&tmp_weights, e))?;
    std::fs::rename(&tmp_weights, &paths.weights).map_err(|e| io(&paths.weights, e))?;
    let tmp_config = paths.config.with_extension("json.tmp");
    std::fs::write(&tmp_config, burn::config::config_to_json(config)).map_err(|e| io(&tmp_config, e))?;
    std::fs::rename(&tmp_config, &paths.config).map_err(|e| io(&paths.config, e))?;
    Ok(paths)
}

/// Reads the config of checkpoint `name` in `dir`.
///
/// # Errors
/// [`BackboneError::Io`] for a missing file, [`BackboneError::Format`] for invalid JSON.
pub fn load_checkpoint_config<C: Config>(dir: impl AsRef<Path>, name: &str) -> Result<C> {
    let paths = CheckpointPaths::new(dir, name);
    let text = std::fs::read_to_string(&paths.config).map_err(|e| io(&paths.config, e))?;
    C::load_binary(text.as_bytes())
        .map_err(|e| BackboneError::Format { path: paths.config.clone(), detail: e.to_string() })
}

/// Loads the weights of checkpoint `name` in `dir` into `module` (built from its config).
/// Every tensor must be present with the right shape.
///
/// # Errors
/// [`BackboneError::Io`], [`BackboneError::Format`], [`BackboneError::MissingKey`],
/// [`BackboneError::ShapeMismatch`].
pub fn load_checkpoint_weights<M: ModuleSnapshot>(
    mut module: M,
    dir: impl AsRef<Path>,
    name: &str,
) -> Result<M> {
    let paths = CheckpointPaths::new(dir, name);
    let path = paths.weights;
    if !path.is_file() {
        return Err(io(&path, "no such file"));
    }
    let mut store = BurnpackStore::from_file(&path).allow_partial(true).validate(false);
    let result = module
        .load_from(&mut store)
        .map_err(|e| BackboneError::Format { path: path.clone(), detail: e.to_string() })?;
    if let Some(err) = result.errors.first() {
        return Err(match err {
            burn::store::ApplyError::ShapeMismatch { path: key, expected, found } => {
                BackboneError::ShapeMismatch {
                    path: path.clone(),
                    key: key.clone(),
                    expected: expected.to_vec(),
                    found: found.to_vec(),
                }
            }
            other => BackboneError::Apply { path: path.clone(), detail: format!("{other:?}") },
        });
    }
    if let Some((key, _)) = result.missing.first() {
        return Err(BackboneError::MissingKey { path, key: key.clone(), more: result.missing.len() - 1 });
    }
    Ok(module)
}
