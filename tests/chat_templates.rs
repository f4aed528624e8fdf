//! Real chat templates (Qwen 2.5's and Qwen 3's ChatML, Llama 3.2's headers with
//! `strftime_now`, Gemma's turns with `raise_exception`), carried in the GGUF fixtures
//! (scripts/make_gguf_fixtures.py), rendered by Lantern's minijinja as Python's jinja2 renders
//! them (tests/fixtures/<name>/chat.json); the model's end-of-turn tokens stop generation.

mod common;
use common::fixture;
use lantern::chat::Chat;
use lantern::model::LoadedModel;
use lantern::model::chat::Message;
use serde::Deserialize;

#[derive(Deserialize)]
struct ChatGolden {
    now: i64,
    messages: Vec<Msg>,
    rendered: String,
    refuses_system: Option<String>,
}

#[derive(Deserialize)]
struct Msg {
    role: String,
    content: String,
}

const WITH_TEMPLATES: [(&str, &str); 6] = [
    ("qwen2-tiny", "<|im_end|>"),
    ("qwen3-tiny", "<|im_end|>"),
    // The same templates from Hugging Face's tokenizer_config.json.
    ("qwen2-tiny-hf", "<|im_end|>"),
    ("qwen3-tiny-hf", "<|im_end|>"),
    ("llama3-tiny", "<|eot_id|>"),
    ("gemma3-tiny", "<end_of_turn>"),
];

fn golden(name: &str) -> ChatGolden {
    let text = std::fs::read_to_string(fixture(name).join("chat.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn templates_render_as_jinja2_does() {
    for (name, _) in WITH_TEMPLATES {
        let mut m = LoadedModel::from_path(&fixture(name)).unwrap();
        let g = golden(name);
        let template = m.chat_template.as_mut().expect("the file's template");
        template.now = Some(g.now);
        let messages: Vec<Message> = g
            .messages
            .iter()
            .map(|m| Message::new(&m.role, &m.content))
            .collect();
        assert_eq!(
            template.render(&messages, true).unwrap(),
            g.rendered,
            "{name}"
        );
        if let Some(reason) = &g.refuses_system {
            let with_system = [vec![Message::new("system", "Be brief.")], messages].concat();
            let err = template.render(&with_system, true).unwrap_err().to_string();
            assert!(err.contains(reason), "{name}: {err}");
        }
    }
}

#[test]
fn end_of_turn_tokens_stop_generation() {
    for (name, end) in WITH_TEMPLATES {
        let m = LoadedModel::from_path(&fixture(name)).unwrap();
        let id = m.tokenizer.special_id(end).unwrap();
        assert!(m.stop_ids.contains(&id), "{name}: {end} stops");
    }
}

/// A template that refuses a system message (Gemma's) still chats: the system prompt goes
/// into the first user message, as such models are meant to be prompted.
#[test]
fn a_template_without_system_role_gets_the_system_prompt_in_the_first_turn() {
    let m = LoadedModel::from_path(&fixture("gemma3-tiny")).unwrap();
    let mut chat = Chat::new("Be brief.");
    let (ids, _) = chat.prompt_for(&m, "Hi!", 128, 16).unwrap();
    assert_eq!(
        m.tokenizer.decode(&ids),
        "<bos><start_of_turn>user\nBe brief.\n\nHi!<end_of_turn>\n<start_of_turn>model\n"
    );
}

/// A template is code from the file: one that loops, recurses or writes megabytes is stopped
/// with an error that says so, while the real templates render long conversations.
#[test]
fn templates_are_bounded() {
    use lantern::model::chat::ChatTemplate;
    let hi = [Message::new("user", "Hi")];
    let error = |source: &str| {
        let t = ChatTemplate::new(source, "<s>", "</s>").expect("it compiles");
        t.render(&hi, true)
            .expect_err("the limits stop it")
            .to_string()
    };
    let looping =
        "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}";
    let msg = error(looping);
    assert!(msg.contains("ran too long"), "{msg}");
    let deep = "{% macro r(n) %}{{ r(n + 1) }}{% endmacro %}{{ r(0) }}";
    let msg = error(deep);
    assert!(msg.contains("recursion"), "{msg}");
    let big = "{% for i in range(100000) %}{{ 'x' * 100 }}{% endfor %}";
    let msg = error(big);
    assert!(msg.contains("wrote more than"), "{msg}");
    let huge = "x".repeat(lantern::model::chat::MAX_TEMPLATE_BYTES + 1);
    let msg = ChatTemplate::new(&huge, "", "")
        .err()
        .expect("refused")
        .to_string();
    assert!(msg.contains("bytes"), "{msg}");

    // 1,000 turns of 1 KB each through every real template: far inside the limits.
    let long: Vec<Message> = (0..1000)
        .map(|i| Message::new(["user", "assistant"][i % 2], &"word ".repeat(200)))
        .collect();
    for (name, _) in WITH_TEMPLATES {
        let m = LoadedModel::from_path(&fixture(name)).unwrap();
        let out = m.chat_format().render(&long, true);
        assert!(out.unwrap().len() > 1_000_000, "{name}");
    }
}
