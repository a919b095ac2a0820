//! Per-thread scratch buffers for the lowered matrices.
//!
//! A lowered image of the ResNet-18 stem or `layer1` at 256x256 is about 9.5 MB. Allocating it
//! per call cost a `memset` and, for allocations that large, fresh zero pages from the kernel
//! (together about 6 % of a training step); each thread now keeps its largest buffer.

use std::cell::RefCell;

thread_local! {
    static COL: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` on this thread's buffer of `len` elements. The contents are unspecified (left from
/// an earlier call): callers overwrite every element. If the buffer is already in use on this
/// thread (a re-entrant call through rayon work stealing), `f` gets a fresh one.
pub(crate) fn with_col<R>(len: usize, f: impl FnOnce(&mut [f32]) -> R) -> R {
    COL.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buf) => {
            if buf.len() < len {
                buf.resize(len, 0.0);
            }
            f(&mut buf[..len])
        }
        Err(_) => f(&mut vec![0.0; len]),
    })
}
