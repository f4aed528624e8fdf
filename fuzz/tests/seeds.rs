//! The seed corpora (scripts/make_fuzz_corpus.py) are valid files that load all the way:
//! fuzzing starts from inside the loaders, not at their first check.

use lantern::model::LoadedModel;
use lantern::model::chat::ChatTemplate;
use std::path::Path;

fn seeds(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("seeds")
        .join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e} (run scripts/make_fuzz_corpus.py)", dir.display()))
        .map(|e| e.expect("a directory entry").path())
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| (p.display().to_string(), std::fs::read(&p).expect("a seed")))
        .collect()
}

#[test]
fn gguf_seeds_load_as_models() {
    for (name, bytes) in seeds("gguf") {
        let loaded = LoadedModel::from_gguf(&bytes, &name);
        if name.ends_with("every-format.gguf") {
            // One tensor of each format and no model: it parses, then stops at the model.
            lantern::model::gguf::Gguf::parse(&bytes, &name).expect("it parses");
            continue;
        }
        let model = loaded.unwrap_or_else(|e| panic!("{name}: {e}"));
        lantern_fuzz::gguf(&bytes);
        assert!(
            model.weights.bytes() <= 1 << 22,
            "{name} is too big to run on the CPU"
        );
    }
}

#[test]
fn safetensors_seeds_load_as_models() {
    for (name, bytes) in seeds("safetensors") {
        let len = u16::from_le_bytes([bytes[0], bytes[1]]) as usize;
        let files = lantern::model::ModelFiles {
            config_json: std::str::from_utf8(&bytes[2..2 + len]).expect("UTF-8"),
            safetensors: &bytes[2 + len..],
            tokenizer_json: None,
            vocab_json: Some(&lantern_fuzz::byte_vocab_json()),
            merges_txt: Some(""),
            tokenizer_config_json: None,
            generation_config_json: None,
        };
        LoadedModel::from_files(&files).unwrap_or_else(|e| panic!("{name}: {e}"));
        lantern_fuzz::safetensors(&bytes);
    }
}

#[test]
fn chat_template_seeds_render() {
    for (name, bytes) in seeds("chat_template") {
        let text = String::from_utf8(bytes).expect("UTF-8");
        let source = text.split('\0').next().expect("a template");
        let t = ChatTemplate::new(source, "<s>", "</s>").unwrap_or_else(|e| panic!("{name}: {e}"));
        let m = [lantern::model::chat::Message::new("user", "Hi")];
        t.render(&m, true).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

#[test]
fn tokenizer_seeds_load_and_round_trip() {
    for (name, bytes) in seeds("tokenizer") {
        lantern_fuzz::tokenizer(&bytes);
        let rest = &bytes[1..];
        let json = rest.split(|&b| b == 0).next().expect("a file");
        if bytes[0] == 0 {
            let t = lantern::model::Tokenizer::from_tokenizer_json(
                std::str::from_utf8(json).expect("UTF-8"),
                &name,
            )
            .unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(
                t.round_trips(),
                "{name}: a byte-level BPE that does not round-trip"
            );
        }
    }
}

#[test]
fn markdown_seeds_render_to_elements() {
    for (name, bytes) in seeds("markdown") {
        let text = String::from_utf8(bytes.clone()).expect("UTF-8");
        let nodes = lantern::markdown::render(&text);
        assert!(
            nodes.iter().any(|n| !n.elements().is_empty()),
            "{name}: no elements"
        );
        lantern_fuzz::markdown(&bytes);
    }
}
