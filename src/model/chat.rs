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

pub struct ChatTemplate {
    source: String,
    bos_token: String,
    eos_token: String,
}

impl ChatTemplate {
    /// Checks that `source` compiles; `bos_token` and `eos_token` are the texts the template
    /// may refer to.
    pub fn new(source: &str, bos_token: &str, eos_token: &str) -> Result<Self> {
        let t = Self {
            source: source.to_string(),
            bos_token: bos_token.to_string(),
            eos_token: eos_token.to_string(),
        };
        let env = t.environment();
        env.template_from_str(&t.source)
            .map_err(|e| LanternError::Tokenizer {
                file: "chat template".into(),
                reason: format!("the chat template does not compile: {e}"),
            })?;
        Ok(t)
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
