//! Answers' Markdown → the nodes the page builds (`src/markdown.rs`): the structure users
//! expect, and nothing from the model's text ever becomes markup or a live link.

use lantern::markdown::{Node, render, safe_link};

fn tags(nodes: &[Node]) -> Vec<&'static str> {
    nodes
        .iter()
        .flat_map(Node::elements)
        .filter_map(|n| match n {
            Node::Element { tag, .. } => Some(*tag),
            Node::Text(_) => None,
        })
        .collect()
}

fn text(nodes: &[Node]) -> String {
    nodes.iter().map(Node::text).collect()
}

fn attr<'a>(n: &'a Node, name: &str) -> Option<&'a str> {
    match n {
        Node::Element { attrs, .. } => attrs
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str()),
        Node::Text(_) => None,
    }
}

#[test]
fn paragraphs_emphasis_lists_tables_and_code() {
    let md = "Hello **bold** and *em* with `code`.\n\n\
              - one\n- two\n\n\
              3. three\n4. four\n\n\
              | a | b |\n|---|---|\n| 1 | 2 |\n\n\
              ```rust\nfn main() {}\n```\n";
    let nodes = render(md);
    let t = tags(&nodes);
    for want in [
        "p", "strong", "em", "code", "ul", "li", "ol", "table", "thead", "tr", "th", "td", "pre",
        "button",
    ] {
        assert!(t.contains(&want), "no <{want}> in {t:?}");
    }
    let ol = nodes
        .iter()
        .flat_map(Node::elements)
        .find(|n| matches!(n, Node::Element { tag: "ol", .. }))
        .unwrap();
    assert_eq!(attr(ol, "start"), Some("3"));
    let code = nodes
        .iter()
        .flat_map(Node::elements)
        .find(|n| attr(n, "data-lang").is_some())
        .unwrap();
    assert_eq!(attr(code, "data-lang"), Some("rust"));
    assert_eq!(code.text(), "fn main() {}\n");
    // th in the head row, td in the body.
    let th = nodes
        .iter()
        .flat_map(Node::elements)
        .filter(|n| matches!(n, Node::Element { tag: "th", .. }))
        .count();
    assert_eq!(th, 2);
}

/// Raw HTML is text; only http(s) links are links, and they open apart.
#[test]
fn html_and_scripts_stay_text() {
    let md = "<img src=x onerror=alert(1)> and <script>alert(2)</script>\n\n\
              <div onclick=\"x()\">block</div>\n\n\
              [good](https://example.com/a) [bad](javascript:alert(3)) [data](data:text/html,hi) \
              [rel](/admin) ![pic](https://example.com/p.png)";
    let nodes = render(md);
    let t = tags(&nodes);
    for bad in ["img", "script", "div"] {
        assert!(!t.contains(&bad), "<{bad}> made from the text: {t:?}");
    }
    let all = text(&nodes);
    assert!(all.contains("<img src=x onerror=alert(1)>"), "{all}");
    assert!(all.contains("<script>alert(2)</script>"), "{all}");
    let links: Vec<&Node> = nodes
        .iter()
        .flat_map(Node::elements)
        .filter(|n| matches!(n, Node::Element { tag: "a", .. }))
        .collect();
    assert_eq!(links.len(), 1, "only the https link is a link");
    assert_eq!(attr(links[0], "href"), Some("https://example.com/a"));
    assert_eq!(attr(links[0], "rel"), Some("noopener noreferrer"));
    assert!(all.contains("bad") && all.contains("pic"), "{all}");
    assert!(!safe_link("JavaScript:alert(1)") && safe_link("HTTPS://x.org"));
}

/// While an answer streams, a code fence that is not closed yet is already code.
#[test]
fn a_half_written_code_fence_is_code() {
    let md = "Here:\n\n```python\nprint('hi')\nfor i in";
    let nodes = render(md);
    let code = nodes
        .iter()
        .flat_map(Node::elements)
        .find(|n| attr(n, "data-lang") == Some("python"))
        .expect("a code block");
    assert_eq!(code.text(), "print('hi')\nfor i in");
    assert!(tags(&nodes).contains(&"pre"));
    // And an unfinished emphasis is just text.
    assert_eq!(text(&render("so **bo")), "so **bo");
}
