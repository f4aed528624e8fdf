//! Inputs the fuzz targets (fuzz/, scripts/fuzz.sh) crashed on, each committed under
//! tests/data/fuzz/ with its fix: each must now give its clear error. (The `gguf` target's
//! find in CI of 2026-12-07, a BOS id past the vocabulary, left no input behind with its
//! clone: `tokenizers_beyond_the_limits_are_refused` in gguf_bad_input.rs rebuilds it.)

use lantern::model::LoadedModel;
use lantern::model::gguf::Gguf;
use std::path::PathBuf;

fn input(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/fuzz")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `gguf` target, 2026-12-02 (37,724 executions into a 10-minute campaign): an F32 tensor
/// whose element count fits in u64 but whose bytes (× 4) do not; the size wrapped (a panic
/// with overflow checks, a wrong tensor length without them).
#[test]
fn gguf_tensor_whose_bytes_overflow_u64() {
    let bytes = input("gguf-tensor-bytes-overflow.gguf");
    let e = Gguf::parse(&bytes, "crash.gguf")
        .err()
        .expect("refused")
        .to_string();
    assert!(e.contains("would take more than 2^64 bytes"), "{e}");
    assert!(LoadedModel::from_gguf(&bytes, "crash.gguf").is_err());
}
