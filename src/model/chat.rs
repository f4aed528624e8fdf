//! Chat templates: the Jinja template a model ships (`tokenizer.chat_template`), rendered
//! by a real template engine (minijinja, with Python string methods), so that any model's
//! own format works.

use crate::error::{LanternError, Result};
use serde::Serialize;

/// One turn of a conversation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Message {
    /// "system", "user" or "assistant".
    pub role: String,
    pub content: String,
}

impl Message {
    pub fn new(role: &str, content: &str) -> Self {
        Self {
            role: role.to_string(),
            content: content.to_string(),
        }
    }
}

/// How Lantern chats with a model whose file has no chat template (a base model such as
/// Gemma 3 270M): the system prompt, then each turn as a line, the model's BOS first.
///
/// ```text
/// <bos>You are a helpful assistant.
///
/// User: What is the capital of France?
/// Assistant: Paris.
///
/// User: And of Italy?
/// Assistant:
/// ```
///
/// The answer ends where the model starts a turn of its own ([`FALLBACK_STOPS`]); it is
/// kept without the spaces around it.
pub const FALLBACK_TEMPLATE: &str = "{{ bos_token }}{% for m in messages %}\
{% if m.role == 'system' %}{{ m.content + '\\n\\n' }}\
{% elif m.role == 'user' %}{{ 'User: ' + m.content + '\\n' }}\
{% else %}{{ 'Assistant: ' + m.content | trim + '\\n\\n' }}{% endif %}{% endfor %}\
{% if add_generation_prompt %}Assistant:{% endif %}";

/// Texts that end an answer in [`FALLBACK_TEMPLATE`]'s format.
pub const FALLBACK_STOPS: [&str; 2] = ["\nUser:", "\nAssistant:"];

pub struct ChatTemplate {
    source: String,
    bos_token: String,
    eos_token: String,
    /// Texts that end an answer besides the stop tokens (the fallback's turn markers).
    pub stop_texts: Vec<String>,
}

impl ChatTemplate {
    /// Checks that `source` compiles; `bos_token` and `eos_token` are the texts the template
    /// may refer to.
    pub fn new(source: &str, bos_token: &str, eos_token: &str) -> Result<Self> {
        let t = Self {
            source: source.to_string(),
            bos_token: bos_token.to_string(),
            eos_token: eos_token.to_string(),
            stop_texts: Vec::new(),
        };
        let env = t.environment();
        env.template_from_str(&t.source)
            .map_err(|e| LanternError::Tokenizer {
                file: "chat template".into(),
                reason: format!("the chat template does not compile: {e}"),
            })?;
        Ok(t)
    }

    /// [`FALLBACK_TEMPLATE`], for a model without a template of its own.
    pub fn fallback(bos_token: &str) -> Self {
        let mut t = Self::new(FALLBACK_TEMPLATE, bos_token, "").expect("the fallback compiles");
        t.stop_texts = FALLBACK_STOPS.iter().map(|s| s.to_string()).collect();
        t
    }

    fn environment(&self) -> minijinja::Environment<'static> {
        let mut env = minijinja::Environment::new();
        env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        env.add_function(
            "raise_exception",
            |msg: String| -> std::result::Result<String, minijinja::Error> {
                Err(minijinja::Error::new(
                    minijinja::ErrorKind::InvalidOperation,
                    msg,
                ))
            },
        );
        env
    }

    /// The prompt text for `messages`; with `add_generation_prompt`, ending where the
    /// assistant's answer begins.
    pub fn render(&self, messages: &[Message], add_generation_prompt: bool) -> Result<String> {
        let env = self.environment();
        let ctx = minijinja::context! {
            messages => messages,
            add_generation_prompt => add_generation_prompt,
            bos_token => self.bos_token.as_str(),
            eos_token => self.eos_token.as_str(),
        };
        env.render_str(&self.source, ctx)
            .map_err(|e| LanternError::Tokenizer {
                file: "chat template".into(),
                reason: format!("rendering failed: {e}"),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fallback_renders_the_documented_format() {
        let t = ChatTemplate::fallback("<bos>");
        let messages = [
            Message::new("system", "Be brief."),
            Message::new("user", "Capital of France?"),
            Message::new("assistant", " Paris.\n"),
            Message::new("user", "And of Italy?"),
        ];
        assert_eq!(
            t.render(&messages, true).unwrap(),
            "<bos>Be brief.\n\nUser: Capital of France?\nAssistant: Paris.\n\nUser: And of Italy?\nAssistant:"
        );
        assert_eq!(t.stop_texts, ["\nUser:", "\nAssistant:"]);
    }
}
