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

/// Bounds on a model's template, which is code from the file: its length, the
/// instructions one render may run (real templates spend a few hundred per message),
/// how deep it may nest (minijinja's own cap is 500; the page's wasm stack is 1 MiB),
/// and how much it may write ([`ChatTemplate::output_limit`]).
pub const MAX_TEMPLATE_BYTES: usize = 1 << 20;
const FUEL_BASE: u64 = 1_000_000;
const FUEL_PER_MESSAGE: u64 = 10_000;
const RECURSION_LIMIT: usize = 100;

pub struct ChatTemplate {
    source: String,
    bos_token: String,
    eos_token: String,
    /// What `strftime_now` reads as now (seconds since 1970, UTC); `None`: the clock.
    pub now: Option<i64>,
    /// Texts that end an answer besides the stop tokens (the fallback's turn markers).
    pub stop_texts: Vec<String>,
}

impl ChatTemplate {
    /// Checks that `source` compiles; `bos_token` and `eos_token` are the texts the template
    /// may refer to.
    pub fn new(source: &str, bos_token: &str, eos_token: &str) -> Result<Self> {
        if source.len() > MAX_TEMPLATE_BYTES {
            return Err(LanternError::Tokenizer {
                file: "chat template".into(),
                reason: format!(
                    "the chat template is {} bytes; Lantern runs templates of up to {MAX_TEMPLATE_BYTES}",
                    source.len()
                ),
            });
        }
        let t = Self {
            source: source.to_string(),
            bos_token: bos_token.to_string(),
            eos_token: eos_token.to_string(),
            now: None,
            stop_texts: Vec::new(),
        };
        let env = t.environment(0);
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

    /// The engine for a conversation of `n_messages`, with the template's limits.
    fn environment(&self, n_messages: usize) -> minijinja::Environment<'static> {
        let mut env = minijinja::Environment::new();
        env.set_fuel(Some(FUEL_BASE + FUEL_PER_MESSAGE * n_messages as u64));
        env.set_recursion_limit(RECURSION_LIMIT);
        env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        // Python's datetime.now().strftime, which Llama 3's templates call for "Today Date".
        let now = self.now;
        env.add_function("strftime_now", move |format: String| {
            strftime(&format, now.unwrap_or_else(unix_now))
        });
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
        let env = self.environment(messages.len());
        let error = |reason: String| LanternError::Tokenizer {
            file: "chat template".into(),
            reason,
        };
        let template = env
            .template_from_str(&self.source)
            .map_err(|e| error(format!("the chat template does not compile: {e}")))?;
        let ctx = minijinja::context! {
            messages => messages,
            add_generation_prompt => add_generation_prompt,
            bos_token => self.bos_token.as_str(),
            eos_token => self.eos_token.as_str(),
        };
        let limit = self.output_limit(messages);
        let mut out = Capped {
            bytes: Vec::new(),
            limit,
        };
        match template.render_captured_to(ctx, &mut out) {
            Ok(_) => String::from_utf8(out.bytes)
                .map_err(|_| error("the chat template wrote invalid UTF-8".into())),
            Err(_) if out.bytes.len() >= limit => Err(error(format!(
                "the chat template wrote more than {limit} bytes for a conversation of {} \
                 bytes: it is broken or malicious",
                content_bytes(messages)
            ))),
            Err(e) if e.kind() == minijinja::ErrorKind::OutOfFuel => Err(error(format!(
                "the chat template ran too long (over {} steps for {} messages): it loops",
                FUEL_BASE + FUEL_PER_MESSAGE * messages.len() as u64,
                messages.len()
            ))),
            Err(e) => Err(error(format!("rendering failed: {e}"))),
        }
    }

    /// The most a render of `messages` may write: 1 MiB, plus twice the conversation
    /// (a template repeats a message at most that often; Qwen 3's reads each once).
    pub fn output_limit(&self, messages: &[Message]) -> usize {
        (1 << 20) + 2 * content_bytes(messages)
    }
}

fn content_bytes(messages: &[Message]) -> usize {
    messages
        .iter()
        .map(|m| m.role.len() + m.content.len())
        .sum()
}

/// A writer that refuses to grow past `limit` bytes.
struct Capped {
    bytes: Vec<u8>,
    limit: usize,
}

impl std::io::Write for Capped {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.bytes.len() + buf.len() > self.limit {
            self.bytes
                .extend_from_slice(&buf[..self.limit - self.bytes.len()]);
            return Err(std::io::Error::other("the output limit"));
        }
        self.bytes.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Seconds since 1970-01-01 UTC.
fn unix_now() -> i64 {
    #[cfg(target_arch = "wasm32")]
    return (js_sys::Date::now() / 1000.0) as i64;
    #[cfg(not(target_arch = "wasm32"))]
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// The civil date (year, month 1–12, day 1–31) of day `days` since 1970-01-01 (Howard
/// Hinnant's civil_from_days).
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + (month <= 2) as i64, month, day)
}

/// Days since 1970-01-01 of a civil date (Howard Hinnant's days_from_civil).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `format` with the strftime fields templates use (%d %m %Y %y %b %B %a %A %H %M %S %j %%)
/// filled in for `secs` since 1970 (UTC); other fields stay as written.
fn strftime(format: &str, secs: i64) -> String {
    const MONTHS: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    const DAYS: [&str; 7] = [
        "Thursday",
        "Friday",
        "Saturday",
        "Sunday",
        "Monday",
        "Tuesday",
        "Wednesday",
    ];
    let (days, rest) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil(days);
    let day_of_year = days - days_from_civil(y, 1, 1) + 1;
    let month = MONTHS[m as usize - 1];
    let weekday = DAYS[days.rem_euclid(7) as usize];
    let mut out = String::new();
    let mut chars = format.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('d') => out += &format!("{d:02}"),
            Some('m') => out += &format!("{m:02}"),
            Some('Y') => out += &y.to_string(),
            Some('y') => out += &format!("{:02}", y.rem_euclid(100)),
            Some('b') => out += &month[..3],
            Some('B') => out += month,
            Some('a') => out += &weekday[..3],
            Some('A') => out += weekday,
            Some('H') => out += &format!("{:02}", rest / 3600),
            Some('M') => out += &format!("{:02}", rest / 60 % 60),
            Some('S') => out += &format!("{:02}", rest % 60),
            Some('j') => out += &format!("{day_of_year:03}"),
            Some('%') => out.push('%'),
            Some(other) => {
                out.push('%');
                out.push(other);
            }
            None => out.push('%'),
        }
    }
    out
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

    #[test]
    fn strftime_formats_dates_as_python_does() {
        // 2026-12-02 13:04:05 UTC, a Wednesday; 2024-02-29 (a leap day), a Thursday.
        let t = 1_796_216_645;
        assert_eq!(strftime("%d %b %Y", t), "02 Dec 2026");
        assert_eq!(
            strftime("%A %B %-d %H:%M:%S %j %y %%", t),
            "Wednesday December %-d 13:04:05 336 26 %"
        );
        assert_eq!(strftime("%a %Y-%m-%d", 1_709_164_800), "Thu 2024-02-29");
        assert_eq!(strftime("%Y-%m-%d", 0), "1970-01-01");
    }
}
