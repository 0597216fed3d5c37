//! A safe subset of Markdown for lesson text: paragraphs, lists, code blocks, `code`
//! and **bold**. It builds Yew nodes, never HTML text, so a lesson cannot inject markup.

use yew::prelude::*;

/// A block of lesson text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Block {
    Paragraph(Vec<Inline>),
    /// A bulleted (`-`, `*`) or numbered (`1.`) list: its items.
    List {
        numbered: bool,
        items: Vec<Vec<Inline>>,
    },
    /// A fenced code block's lines.
    Code(String),
}

/// A piece of text inside a block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Inline {
    Text(String),
    Code(String),
    Bold(String),
}

/// The list item a line starts, if any: (numbered, rest).
fn list_item(line: &str) -> Option<(bool, &str)> {
    let t = line.trim_start();
    if let Some(rest) = t.strip_prefix("- ").or_else(|| t.strip_prefix("* ")) {
        return Some((false, rest));
    }
    let digits = t.chars().take_while(char::is_ascii_digit).count();
    if digits > 0 {
        if let Some(rest) = t[digits..].strip_prefix(". ") {
            return Some((true, rest));
        }
    }
    None
}

/// Splits Markdown text into blocks.
pub fn parse_blocks(text: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut para: Vec<&str> = Vec::new();
    let mut lines = text.lines();
    let flush = |para: &mut Vec<&str>, blocks: &mut Vec<Block>| {
        if !para.is_empty() {
            blocks.push(Block::Paragraph(parse_inline(&para.join(" "))));
            para.clear();
        }
    };
    while let Some(line) = lines.next() {
        if line.trim_start().starts_with("```") {
            flush(&mut para, &mut blocks);
            let code: Vec<&str> = lines
                .by_ref()
                .take_while(|l| !l.trim_start().starts_with("```"))
                .collect();
            blocks.push(Block::Code(code.join("\n")));
        } else if let Some((numbered, rest)) = list_item(line) {
            flush(&mut para, &mut blocks);
            match blocks.last_mut() {
                Some(Block::List { numbered: n, items }) if *n == numbered => {
                    items.push(parse_inline(rest))
                }
                _ => blocks.push(Block::List {
                    numbered,
                    items: vec![parse_inline(rest)],
                }),
            }
        } else if line.trim().is_empty() {
            flush(&mut para, &mut blocks);
        } else if para.is_empty() && line.starts_with("  ") {
            // An indented line right after a list item continues it.
            match blocks.last_mut() {
                Some(Block::List { items, .. }) => {
                    if let Some(item) = items.last_mut() {
                        item.push(Inline::Text(" ".to_string()));
                        item.extend(parse_inline(line.trim()));
                    }
                }
                _ => para.push(line.trim()),
            }
        } else {
            para.push(line.trim());
        }
    }
    flush(&mut para, &mut blocks);
    blocks
}

/// Splits a line into text, `code` and **bold**; an unclosed marker stays text.
pub fn parse_inline(text: &str) -> Vec<Inline> {
    let mut out = Vec::new();
    let mut plain = String::new();
    let mut rest = text;
    while !rest.is_empty() {
        let (marker, make): (&str, fn(String) -> Inline) = if rest.starts_with('`') {
            ("`", Inline::Code)
        } else if rest.starts_with("**") {
            ("**", Inline::Bold)
        } else {
            // Past the first character (a lone `*`, or text of any width).
            let first = rest.chars().next().map_or(1, char::len_utf8);
            let next = rest[first..]
                .find(['`', '*'])
                .map_or(rest.len(), |i| i + first);
            plain.push_str(&rest[..next]);
            rest = &rest[next..];
            continue;
        };
        let body = &rest[marker.len()..];
        match body.find(marker) {
            Some(end) if end > 0 => {
                if !plain.is_empty() {
                    out.push(Inline::Text(std::mem::take(&mut plain)));
                }
                out.push(make(body[..end].to_string()));
                rest = &body[end + marker.len()..];
            }
            _ => {
                plain.push_str(marker);
                rest = body;
            }
        }
    }
    if !plain.is_empty() {
        out.push(Inline::Text(plain));
    }
    out
}

fn inline_html(parts: &[Inline]) -> Html {
    parts
        .iter()
        .map(|p| match p {
            Inline::Text(t) => html! { { t.clone() } },
            Inline::Code(c) => html! { <code>{ c.clone() }</code> },
            Inline::Bold(b) => html! { <strong>{ b.clone() }</strong> },
        })
        .collect()
}

/// Markdown text as Yew nodes.
pub fn render(text: &str) -> Html {
    parse_blocks(text)
        .iter()
        .map(|b| match b {
            Block::Paragraph(parts) => html! { <p>{ inline_html(parts) }</p> },
            Block::List { numbered, items } => {
                let items = items.iter().map(|i| html! { <li>{ inline_html(i) }</li> });
                if *numbered {
                    html! { <ol>{ for items }</ol> }
                } else {
                    html! { <ul>{ for items }</ul> }
                }
            }
            Block::Code(code) => html! { <pre><code>{ code.clone() }</code></pre> },
        })
        .collect()
}

/// One line of Markdown (a question, a title) as inline nodes, no paragraph.
pub fn render_inline(text: &str) -> Html {
    inline_html(&parse_inline(text))
}
