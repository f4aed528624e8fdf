//! A conversation with a chat model: the history, rendered by the model's own chat template,
//! and which of its tokens the KV cache already holds, so that each turn only runs the new
//! tokens through the model.

use crate::error::{LanternError, Result};
use crate::model::LoadedModel;
use crate::model::chat::{ChatTemplate, Message};

/// The system prompt Lantern gives when the user sets none. SmolLM2's template would
/// otherwise insert its own ("You are a helpful AI assistant named SmolLM, trained by
/// Hugging Face"), with which the model answers worse (it calls the capital of France
/// "L'Étoile"); a short neutral instruction keeps its answers plain and factual.
pub const DEFAULT_SYSTEM_PROMPT: &str =
    "You are a helpful assistant. Answer briefly and accurately.";

pub struct Chat {
    /// The system prompt (first) and the turns so far.
    pub messages: Vec<Message>,
    /// The tokens in the model's KV cache after the last turn.
    cached: Vec<u32>,
}

impl Chat {
    /// A new conversation; an empty system prompt means none at all.
    pub fn new(system: &str) -> Self {
        let messages = if system.is_empty() {
            Vec::new()
        } else {
            vec![Message::new("system", system)]
        };
        Self {
            messages,
            cached: Vec::new(),
        }
    }

    /// Forgets the turns (keeps the system prompt).
    pub fn reset(&mut self) {
        self.messages.retain(|m| m.role == "system");
        self.cached.clear();
    }

    /// The KV cache was lost (a new device, a reloaded model): the next turn runs the whole
    /// conversation again.
    pub fn cache_lost(&mut self) {
        self.cached.clear();
    }

    /// Adds the user's message and returns the prompt's ids for the answer, with how many of
    /// them the KV cache already holds. Old turns are dropped when the conversation would
    /// not leave `room` tokens for the answer within `context`.
    pub fn prompt_for(
        &mut self,
        m: &LoadedModel,
        user: &str,
        context: usize,
        room: usize,
    ) -> Result<(Vec<u32>, usize)> {
        let template = m.chat_format();
        self.messages.push(Message::new("user", user));
        loop {
            let ids = m.tokenizer.encode(&render(template, &self.messages)?);
            if ids.len() + room <= context {
                let cached = self
                    .cached
                    .iter()
                    .zip(&ids)
                    .take_while(|(a, b)| a == b)
                    .count();
                return Ok((ids, cached));
            }
            // Drop the oldest turn after the system prompt; never the new message.
            let first = self
                .messages
                .iter()
                .position(|m| m.role != "system")
                .expect("the user message");
            if first + 1 >= self.messages.len() {
                self.messages.pop();
                return Err(LanternError::PromptTooLong {
                    prompt_tokens: ids.len() + room,
                    context,
                });
            }
            self.messages.remove(first);
        }
    }

    /// Records the answer and what the KV cache now holds.
    pub fn answered(&mut self, answer: &str, cached: Vec<u32>) {
        self.messages.push(Message::new("assistant", answer));
        self.cached = cached;
    }
}

/// The prompt text of `messages`. A template that refuses a system message (Gemma's: "System
/// role not supported") gets the system prompt at the start of the first user message.
fn render(template: &ChatTemplate, messages: &[Message]) -> Result<String> {
    let err = match template.render(messages, true) {
        Ok(text) => return Ok(text),
        Err(e) => e,
    };
    match messages {
        [system, user, rest @ ..] if system.role == "system" && user.role == "user" => {
            let merged = Message::new("user", &format!("{}\n\n{}", system.content, user.content));
            let folded = [&[merged][..], rest].concat();
            template.render(&folded, true).map_err(|_| err)
        }
        _ => Err(err),
    }
}
