//! A model's answer as Markdown, turned into a small tree of elements and text that the page
//! builds with `createElement` and text nodes (`app::markdown`): nothing is ever parsed as
//! HTML. Raw HTML in the answer stays text, links go only to `http(s)` addresses (and open
//! apart, with `rel="noopener noreferrer"`), images are never fetched (their alt text shows).
//! The parser is pulldown-cmark (CommonMark, with tables, strikethrough and task lists);
//! streaming works because an unclosed code fence is a code block up to the end of the text,
//! so a half-written one renders as code while it grows.

use pulldown_cmark::{CodeBlockKind, Event, Options, Parser, Tag};

/// One node of a rendered answer. Tags and attribute names come only from this module.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    Element {
        tag: &'static str,
        attrs: Vec<(&'static str, String)>,
        children: Vec<Node>,
    },
    Text(String),
}

impl Node {
    fn element(tag: &'static str) -> Self {
        Node::Element {
            tag,
            attrs: Vec::new(),
            children: Vec::new(),
        }
    }

    fn with(mut self, name: &'static str, value: impl Into<String>) -> Self {
        if let Node::Element { attrs, .. } = &mut self {
            attrs.push((name, value.into()));
        }
        self
    }

    /// The text inside, as the page's `textContent` reads it.
    pub fn text(&self) -> String {
        match self {
            Node::Text(t) => t.clone(),
            Node::Element { children, .. } => children.iter().map(Node::text).collect(),
        }
    }

    /// Every element of the tree (itself first), for tests and checks.
    pub fn elements(&self) -> Vec<&Node> {
        match self {
            Node::Text(_) => Vec::new(),
            Node::Element { children, .. } => std::iter::once(self)
                .chain(children.iter().flat_map(Node::elements))
                .collect(),
        }
    }
}

/// Whether a link may be followed: absolute `http:` or `https:` addresses only (no
/// `javascript:`, `data:`, `file:`, relative paths into the app).
pub fn safe_link(url: &str) -> bool {
    let lower = url.trim().to_ascii_lowercase();
    lower.starts_with("https://") || lower.starts_with("http://")
}

/// The element a Markdown tag opens.
fn open(tag: Tag) -> Node {
    match tag {
        Tag::Paragraph => Node::element("p"),
        Tag::Heading { level, .. } => Node::element(match level as usize {
            1 => "h1",
            2 => "h2",
            3 => "h3",
            4 => "h4",
            5 => "h5",
            _ => "h6",
        }),
        Tag::BlockQuote(_) => Node::element("blockquote"),
        Tag::CodeBlock(kind) => {
            let lang = match kind {
                CodeBlockKind::Fenced(info) => {
                    info.split_whitespace().next().unwrap_or("").to_string()
                }
                CodeBlockKind::Indented => String::new(),
            };
            let code = Node::element("code");
            if lang.is_empty() {
                code
            } else {
                code.with("data-lang", lang)
            }
        }
        Tag::List(Some(start)) => Node::element("ol").with("start", start.to_string()),
        Tag::List(None) => Node::element("ul"),
        Tag::Item => Node::element("li"),
        Tag::Table(_) => Node::element("table"),
        Tag::TableHead => Node::element("thead"),
        Tag::TableRow => Node::element("tr"),
        Tag::TableCell => Node::element("td"),
        Tag::Emphasis => Node::element("em"),
        Tag::Strong => Node::element("strong"),
        Tag::Strikethrough => Node::element("del"),
        Tag::Superscript => Node::element("sup"),
        Tag::Subscript => Node::element("sub"),
        Tag::Link { dest_url, .. } if safe_link(&dest_url) => Node::element("a")
            .with("href", dest_url.to_string())
            .with("target", "_blank")
            .with("rel", "noopener noreferrer"),
        // Not followed: shown as its text, the address in a tooltip.
        Tag::Link { dest_url, .. } => Node::element("span")
            .with("class", "inert-link")
            .with("title", dest_url.to_string()),
        // Never fetched: the alt text, marked as an image.
        Tag::Image { dest_url, .. } => Node::element("span")
            .with("class", "image-alt")
            .with("title", dest_url.to_string()),
        _ => Node::element("span"),
    }
}

/// The answer's nodes. Code blocks come as `<div class="code-block">` holding a bar (the
/// language and a copy button, which the page's click handler serves) and `<pre><code>`.
pub fn render(markdown: &str) -> Vec<Node> {
    let opts = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS;
    // The open elements, innermost last; the root collects the finished ones.
    let mut stack: Vec<Node> = vec![Node::element("div")];
    let mut in_head = false;
    for event in Parser::new_ext(markdown, opts) {
        match event {
            Event::Start(tag) => {
                in_head |= matches!(tag, Tag::TableHead);
                let is_head_cell = in_head && matches!(tag, Tag::TableCell);
                let node = open(tag);
                stack.push(if is_head_cell {
                    Node::element("th")
                } else {
                    node
                });
            }
            Event::End(end) => {
                if matches!(end, pulldown_cmark::TagEnd::TableHead) {
                    in_head = false;
                }
                let node = stack.pop().expect("an open element");
                let node = match node {
                    Node::Element { tag: "code", .. } if is_block(&end) => code_block(node),
                    Node::Element {
                        tag: "thead",
                        attrs,
                        children,
                    } => Node::Element {
                        tag: "thead",
                        attrs,
                        // The head's cells sit in one row.
                        children: vec![Node::Element {
                            tag: "tr",
                            attrs: Vec::new(),
                            children,
                        }],
                    },
                    n => n,
                };
                push(&mut stack, node);
            }
            Event::Text(t) | Event::Html(t) | Event::InlineHtml(t) => {
                push(&mut stack, Node::Text(t.to_string()))
            }
            Event::Code(t) => push(
                &mut stack,
                Node::Element {
                    tag: "code",
                    attrs: Vec::new(),
                    children: vec![Node::Text(t.to_string())],
                },
            ),
            Event::InlineMath(t) | Event::DisplayMath(t) => {
                push(&mut stack, Node::Text(t.to_string()))
            }
            Event::FootnoteReference(t) => push(&mut stack, Node::Text(format!("[^{t}]"))),
            Event::SoftBreak => push(&mut stack, Node::Text("\n".into())),
            Event::HardBreak => push(&mut stack, Node::element("br")),
            Event::Rule => push(&mut stack, Node::element("hr")),
            Event::TaskListMarker(done) => push(
                &mut stack,
                Node::Text(if done { "☑ " } else { "☐ " }.into()),
            ),
        }
    }
    // A well-formed event stream closes all it opens; be safe with what is left.
    while stack.len() > 1 {
        let node = stack.pop().expect("open");
        push(&mut stack, node);
    }
    match stack.pop() {
        Some(Node::Element { children, .. }) => children,
        _ => Vec::new(),
    }
}

fn is_block(end: &pulldown_cmark::TagEnd) -> bool {
    matches!(end, pulldown_cmark::TagEnd::CodeBlock)
}

/// `<pre><code>` with its bar: the language and the copy button.
fn code_block(code: Node) -> Node {
    let lang = match &code {
        Node::Element { attrs, .. } => attrs
            .iter()
            .find(|(k, _)| *k == "data-lang")
            .map(|(_, v)| v.clone())
            .unwrap_or_default(),
        Node::Text(_) => String::new(),
    };
    let bar = Node::Element {
        tag: "div",
        attrs: vec![("class", "code-bar".into())],
        children: vec![
            Node::Element {
                tag: "span",
                attrs: vec![("class", "code-lang".into())],
                children: vec![Node::Text(lang)],
            },
            Node::Element {
                tag: "button",
                attrs: vec![
                    ("type", "button".into()),
                    ("class", "copy-code".into()),
                    ("data-testid", "copy-code".into()),
                ],
                children: vec![Node::Text("Copy".into())],
            },
        ],
    };
    Node::Element {
        tag: "div",
        attrs: vec![("class", "code-block".into())],
        children: vec![
            bar,
            Node::Element {
                tag: "pre",
                attrs: Vec::new(),
                children: vec![code],
            },
        ],
    }
}

/// Adds `node` to the innermost open element, joining adjacent text.
fn push(stack: &mut [Node], node: Node) {
    let Some(Node::Element { children, .. }) = stack.last_mut() else {
        return;
    };
    if let (Node::Text(t), Some(Node::Text(last))) = (&node, children.last_mut()) {
        last.push_str(t);
        return;
    }
    children.push(node);
}
