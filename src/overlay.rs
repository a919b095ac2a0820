//! Pictures of localization maps: heatmaps blended over the frame, written as PNG.
//!
//! All drawing lives in one place, `av_data::viz`; this module is the facade's view of it (the
//! same functions, with `av_data::DataError` errors that convert into [`crate::Error`]).

pub use av_data::viz::{draw_box, draw_text, grid, jet, overlay, save_png};
