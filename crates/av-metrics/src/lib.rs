//! Evaluation metrics (placeholder, being written).
