//! The reference implementation: plain Rust, slow and obviously right (in the style of
//! llm.c's `train_gpt2.c`). Output first, dimensions last; sums in f64. The GPU kernels are
//! tested against these functions.

mod gpt2;
mod ops;
mod sample;

pub use gpt2::{Gpt2Trace, gpt2_forward};
pub use ops::*;
pub use sample::{SampleParams, sample};
