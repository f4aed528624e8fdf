//! A conversation with a chat model: the history, rendered by the model's own chat template,
//! and which of its tokens the KV cache already holds, so that each turn only runs the new
//! tokens through the model.

use crate::error::{LanternError, Result};
use crate::model::LoadedModel;
use crate::model::chat::{ChatTemplate, Message};

/// The system prompt Lantern gives when the user sets none ([`crate::defaults`]).
pub use crate::defaults::SYSTEM_PROMPT as DEFAULT_SYSTEM_PROMPT;

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
        self.messages.push(Message::new("user", user));
        let out = self.prompt(m, context, room);
        if out.is_err() {
            self.messages.pop();
        }
        out
    }

    /// Sets the conversation to `system` (empty: none) and `turns` (user and assistant
    /// messages, the last one the user's to answer), as the page's edits leave it. The KV
    /// cache keeps what it holds: [`Chat::prompt`] reuses it up to the first token that
    /// changed, so an edited question or a regenerated answer runs only what follows.
    pub fn set_turns(&mut self, system: &str, turns: Vec<Message>) {
        self.messages = Chat::new(system).messages;
        self.messages.extend(turns);
    }

    /// The prompt's ids for an answer to the conversation as it stands (its last message the
    /// user's), with how many of them the KV cache already holds. Old turns are dropped
    /// when the conversation would not leave `room` tokens for the answer within `context`.
    pub fn prompt(
        &mut self,
        m: &LoadedModel,
        context: usize,
        room: usize,
    ) -> Result<(Vec<u32>, usize)> {
        let template = m.chat_format();
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
            // Drop the oldest turn after the system prompt; never the last message.
            let first = self
                .messages
                .iter()
                .position(|m| m.role != "system")
                .expect("the user message");
            if first + 1 >= self.messages.len() {
                return Err(LanternError::PromptTooLong {
                    prompt_tokens: ids.len() + room,
                    context,
                });
            }
            self.messages.remove(first);
        }
    }

    /// Tokens of the conversation as the model reads it (with the start of an answer).
    pub fn token_count(&self, m: &LoadedModel) -> Result<usize> {
        Ok(m.tokenizer
            .encode(&render(m.chat_format(), &self.messages)?)
            .len())
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
