//! An answer's Markdown on screen: the nodes of `crate::markdown::render`, built with
//! `createElement`, `setAttribute` and text nodes (never `innerHTML`: the model's text is
//! only ever text).

use crate::markdown::{Node, render};

/// Replaces what `el` shows with `text` rendered as Markdown.
pub fn fill(el: &web_sys::Element, text: &str) {
    let Some(doc) = el.owner_document() else {
        return;
    };
    el.set_text_content(None);
    for node in render(text) {
        append(&doc, el, &node);
    }
}

fn append(doc: &web_sys::Document, parent: &web_sys::Node, node: &Node) {
    let child: web_sys::Node = match node {
        Node::Text(t) => doc.create_text_node(t).into(),
        Node::Element {
            tag,
            attrs,
            children,
        } => {
            let Ok(el) = doc.create_element(tag) else {
                return;
            };
            for (name, value) in attrs {
                let _ = el.set_attribute(name, value);
            }
            for c in children {
                append(doc, &el, c);
            }
            el.into()
        }
    };
    let _ = parent.append_child(&child);
}
