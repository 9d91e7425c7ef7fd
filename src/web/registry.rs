//! The record of processing activities (GDPR article 30), kept in the repository as
//! `docs/registre-des-traitements.md` and shown to the operator. The document uses a small
//! part of Markdown, read here: headings, paragraphs, `- ` lists, `**bold**` and `` `code` ``
//! (anything else shows as text; the template escapes it all).

use super::operator::require_operator;
use super::{page, Layout, Visitor, WebResult};
use crate::app::AppState;
use askama::Template;
use axum::extract::State;
use axum::routing::get;
use axum::Router;

const RECORD: &str = include_str!("../../docs/registre-des-traitements.md");

pub fn router() -> Router<AppState> {
    Router::new().route("/operateur/registre", get(record))
}

/// A piece of a line: plain, bold or code.
#[derive(Debug, PartialEq)]
pub enum Span {
    Text(String),
    Strong(String),
    Code(String),
}

#[derive(Debug, PartialEq)]
pub enum Block {
    /// Level 1 to 3 (the page's `<h1>` is the document's first heading).
    Heading(u8, Vec<Span>),
    Paragraph(Vec<Span>),
    List(Vec<Vec<Span>>),
}

/// `**Finalité** : `x`` → the spans.
fn spans(text: &str) -> Vec<Span> {
    let mut out = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let strong = rest.find("**");
        let code = rest.find('`');
        let (at, marker) = match (strong, code) {
            (Some(s), Some(c)) if c < s => (c, "`"),
            (Some(s), _) => (s, "**"),
            (None, Some(c)) => (c, "`"),
            (None, None) => break,
        };
        let after = &rest[at + marker.len()..];
        let Some(end) = after.find(marker) else {
            break;
        };
        if at > 0 {
            out.push(Span::Text(rest[..at].to_string()));
        }
        let inner = after[..end].to_string();
        out.push(if marker == "`" {
            Span::Code(inner)
        } else {
            Span::Strong(inner)
        });
        rest = &after[end + marker.len()..];
    }
    if !rest.is_empty() {
        out.push(Span::Text(rest.to_string()));
    }
    out
}

/// The document's blocks: lines run on until a blank line; a list item runs on over the
/// indented lines that follow it.
pub fn blocks(markdown: &str) -> Vec<Block> {
    enum Open {
        None,
        Paragraph(String),
        List(Vec<String>),
    }
    fn close(open: &mut Open, out: &mut Vec<Block>) {
        match std::mem::replace(open, Open::None) {
            Open::None => {}
            Open::Paragraph(text) => out.push(Block::Paragraph(spans(&text))),
            Open::List(items) => out.push(Block::List(items.iter().map(|i| spans(i)).collect())),
        }
    }
    let mut out = Vec::new();
    let mut open = Open::None;
    for line in markdown.lines() {
        let trimmed = line.trim();
        if trimmed.is_empty() {
            close(&mut open, &mut out);
        } else if let Some((level, title)) = heading(trimmed) {
            close(&mut open, &mut out);
            out.push(Block::Heading(level, spans(title)));
        } else if let Some(item) = trimmed.strip_prefix("- ") {
            if !matches!(open, Open::List(_)) {
                close(&mut open, &mut out);
                open = Open::List(Vec::new());
            }
            if let Open::List(items) = &mut open {
                items.push(item.to_string());
            }
        } else {
            match &mut open {
                Open::List(items) if line.starts_with(' ') => {
                    if let Some(last) = items.last_mut() {
                        last.push(' ');
                        last.push_str(trimmed);
                    }
                }
                Open::Paragraph(text) => {
                    text.push(' ');
                    text.push_str(trimmed);
                }
                _ => {
                    close(&mut open, &mut out);
                    open = Open::Paragraph(trimmed.to_string());
                }
            }
        }
    }
    close(&mut open, &mut out);
    out
}

fn heading(line: &str) -> Option<(u8, &str)> {
    let hashes = line.chars().take_while(|&c| c == '#').count();
    let title = line[hashes..].strip_prefix(' ')?;
    (1..=3)
        .contains(&hashes)
        .then_some((hashes as u8, title.trim()))
}

#[derive(Template)]
#[template(path = "operator/registry.html")]
struct Record {
    l: Layout,
    section: &'static str,
    blocks: Vec<Block>,
}

async fn record(State(state): State<AppState>, visitor: Visitor) -> WebResult {
    require_operator(&visitor)?;
    page(Record {
        l: Layout::new(&state, &visitor, "Registre des traitements"),
        section: "registre",
        blocks: blocks(RECORD),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headings_paragraphs_lists_and_marks_are_read() {
        let md = "# Titre\n\nUn paragraphe\nsur deux lignes.\n\n## Fiche\n\n- **Finalité** : payer\n  les lieux\n- `passnum` vérifie\n";
        assert_eq!(
            blocks(md),
            vec![
                Block::Heading(1, vec![Span::Text("Titre".into())]),
                Block::Paragraph(vec![Span::Text("Un paragraphe sur deux lignes.".into())]),
                Block::Heading(2, vec![Span::Text("Fiche".into())]),
                Block::List(vec![
                    vec![
                        Span::Strong("Finalité".into()),
                        Span::Text(" : payer les lieux".into())
                    ],
                    vec![Span::Code("passnum".into()), Span::Text(" vérifie".into())],
                ]),
            ]
        );
    }

    #[test]
    fn an_unclosed_mark_stays_text() {
        assert_eq!(spans("a ** b"), vec![Span::Text("a ** b".into())]);
    }

    #[test]
    fn the_record_has_one_entry_per_purpose_with_every_field() {
        let entries = RECORD.split("\n## ").skip(1).collect::<Vec<_>>();
        assert!(entries.len() >= 8);
        for entry in entries {
            for field in [
                "**Finalité**",
                "**Base légale**",
                "**Personnes concernées**",
                "**Données**",
                "**Destinataires**",
                "**Durée de conservation**",
                "**Sécurité**",
            ] {
                assert!(entry.contains(field), "{field} missing in: {entry}");
            }
        }
    }
}
