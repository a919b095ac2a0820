//! Loaders for the real datasets' on-disk layouts (each module documents its directory tree and
//! file formats; `docs/datasets.md` collects them).

pub mod audioset;
pub mod ave;
pub mod coco;
pub mod flickr;
pub mod flickr_xml;
pub mod music;
