//! XML to a small tree: well-formed XML 1.0 in UTF-8, no DOCTYPE, at most [`MAX_DEPTH`]
//! levels, names resolved to namespaces. The whole file is kept: a statement is at most a few
//! megabytes, and the schema check needs to look at siblings. The schema itself is read with
//! the same reader.

use super::{refuse, shorten, StatementError, MAX_DEPTH};
use quick_xml::events::Event;
use quick_xml::name::ResolveResult;
use quick_xml::reader::NsReader;

/// A namespace, as an index into `Tree::namespaces`.
pub(super) type Ns = Option<u32>;

pub(super) struct Tree {
    pub(super) nodes: Vec<Node>,
    namespaces: Vec<String>,
    pub(super) root: usize,
}

pub(super) struct Node {
    pub(super) ns: Ns,
    pub(super) name: String,
    pub(super) attrs: Vec<Attr>,
    /// All character data directly inside the element, references resolved.
    pub(super) text: String,
    /// Some of that text came from a CDATA section, which element-only content refuses even
    /// when it is blank (as libxml2 does).
    pub(super) cdata: bool,
    pub(super) children: Vec<usize>,
    /// Byte offset of the start tag, for the line number in messages.
    pub(super) pos: usize,
}

pub(super) struct Attr {
    pub(super) ns: Ns,
    /// The name as written (with its prefix), for messages.
    pub(super) qname: String,
    pub(super) name: String,
    pub(super) value: String,
}

impl Tree {
    pub(super) fn ns_is(&self, ns: Ns, uri: &str) -> bool {
        ns.is_some_and(|i| self.namespaces[i as usize] == uri)
    }

    pub(super) fn ns_name(&self, ns: Ns) -> &str {
        ns.map_or("", |i| self.namespaces[i as usize].as_str())
    }

    /// The children named `name` in the namespace of `parent` (all of the schema's elements
    /// are in one namespace).
    pub(super) fn kids<'a>(
        &'a self,
        parent: usize,
        name: &'a str,
    ) -> impl Iterator<Item = usize> + 'a {
        let ns = self.nodes[parent].ns;
        self.nodes[parent]
            .children
            .iter()
            .copied()
            .filter(move |&k| self.nodes[k].ns == ns && self.nodes[k].name == name)
    }

    pub(super) fn kid(&self, parent: usize, name: &str) -> Option<usize> {
        self.kids(parent, name).next()
    }

    /// The node at the end of a path of child names.
    pub(super) fn at(&self, from: usize, path: &[&str]) -> Option<usize> {
        path.iter()
            .try_fold(from, |node, name| self.kid(node, name))
    }

    pub(super) fn attr(&self, node: usize, name: &str) -> Option<&str> {
        self.nodes[node]
            .attrs
            .iter()
            .find(|a| a.ns.is_none() && a.name == name)
            .map(|a| a.value.as_str())
    }
}

pub(super) fn decode(bytes: &[u8]) -> Result<&str, StatementError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if bytes.starts_with(b"\xFF\xFE") || bytes.starts_with(b"\xFE\xFF") {
        return Err(refuse(
            "Le fichier est encodé en UTF-16 ; un relevé camt.053 doit être encodé en UTF-8.",
        ));
    }
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(refuse("Le fichier est vide."));
    }
    let src = std::str::from_utf8(bytes).map_err(|e| {
        refuse(format!(
            "Le fichier n'est pas encodé en UTF-8 (caractère invalide ligne {}) : \
             un relevé camt.053 doit être en UTF-8.",
            line_of(bytes, e.valid_up_to())
        ))
    })?;
    if let Some((at, c)) = src.char_indices().find(|&(_, c)| !is_xml_char(c)) {
        return Err(malformed_at(
            src,
            at,
            &format!("caractère interdit en XML (U+{:04X})", c as u32),
        ));
    }
    Ok(src)
}

fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | ' '..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

pub(super) fn is_xml_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}

pub(super) fn line_of(bytes: &[u8], pos: usize) -> usize {
    1 + bytes[..pos.min(bytes.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
}

fn malformed_at(src: &str, pos: usize, what: &str) -> StatementError {
    refuse(format!(
        "Le fichier n'est pas un XML bien formé (ligne {}) : {what}.",
        line_of(src.as_bytes(), pos)
    ))
}

pub(super) fn read_tree(src: &str) -> Result<Tree, StatementError> {
    let mut reader = NsReader::from_str(src);
    reader.config_mut().check_end_names = true;
    reader.config_mut().check_comments = true;
    let mut tree = Tree {
        nodes: Vec::new(),
        namespaces: Vec::new(),
        root: 0,
    };
    let mut stack: Vec<usize> = Vec::new();
    let mut root: Option<usize> = None;
    let mut first_event = true;
    loop {
        let pos = reader.buffer_position() as usize;
        let (resolved, event) = match reader.read_resolved_event() {
            Ok((resolved, event)) => (intern_resolved(&mut tree, resolved), event),
            Err(e) => {
                return Err(malformed_at(
                    src,
                    reader.error_position() as usize,
                    &xml_error(&e),
                ))
            }
        };
        let was_first = std::mem::replace(&mut first_event, false);
        match event {
            Event::Start(ref e) | Event::Empty(ref e) => {
                let empty = matches!(event, Event::Empty(_));
                let ns = match resolved {
                    Resolved::Ns(ns) => ns,
                    Resolved::UnknownPrefix(prefix) => {
                        return Err(malformed_at(
                            src,
                            pos,
                            &format!("préfixe d'espace de noms « {prefix} » non déclaré"),
                        ))
                    }
                };
                if stack.is_empty() && root.is_some() {
                    return Err(malformed_at(
                        src,
                        pos,
                        "un second élément racine suit le premier",
                    ));
                }
                if stack.len() >= MAX_DEPTH {
                    return Err(refuse(format!(
                        "Le fichier est refusé (ligne {}) : plus de {MAX_DEPTH} niveaux \
                         d'éléments imbriqués, ce qu'aucun relevé bancaire ne contient.",
                        line_of(src.as_bytes(), pos)
                    )));
                }
                let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                if name.len() > 200 {
                    return Err(malformed_at(
                        src,
                        pos,
                        "nom d'élément de plus de 200 caractères",
                    ));
                }
                let mut attrs = Vec::new();
                for attr in e.attributes() {
                    let attr = attr.map_err(|err| malformed_at(src, pos, &attr_error(&err)))?;
                    let key = attr.key.as_ref();
                    if key == b"xmlns" || key.starts_with(b"xmlns:") {
                        continue;
                    }
                    let qname = String::from_utf8_lossy(key).into_owned();
                    if qname.len() > 200 {
                        return Err(malformed_at(
                            src,
                            pos,
                            "nom d'attribut de plus de 200 caractères",
                        ));
                    }
                    let (ans, local) = reader.resolve_attribute(attr.key);
                    let ans = match ans {
                        ResolveResult::Bound(ns) => Some(ns.as_ref().to_vec()),
                        ResolveResult::Unbound => None,
                        ResolveResult::Unknown(_) => {
                            return Err(malformed_at(
                                src,
                                pos,
                                &format!("préfixe de l'attribut « {qname} » non déclaré"),
                            ))
                        }
                    };
                    let local = String::from_utf8_lossy(local.as_ref()).into_owned();
                    // Through the reader's decoder: `unescape_value` is gone once quick-xml's
                    // `encoding` feature is on (spreadsheet-ods turns it on).
                    let raw = attr
                        .decode_and_unescape_value(reader.decoder())
                        .map_err(|err| {
                            malformed_at(
                                src,
                                pos,
                                &format!("valeur de l'attribut « {qname} » ({})", xml_error(&err)),
                            )
                        })?;
                    // Attribute-value normalisation (XML 1.0 §3.3.3).
                    let value = raw.replace(['\t', '\n', '\r'], " ");
                    let ns = ans.map(|uri| intern(&mut tree, &uri));
                    attrs.push(Attr {
                        ns,
                        qname,
                        name: local,
                        value,
                    });
                }
                let id = tree.nodes.len();
                tree.nodes.push(Node {
                    ns,
                    name,
                    attrs,
                    text: String::new(),
                    cdata: false,
                    children: Vec::new(),
                    pos,
                });
                match stack.last() {
                    Some(&parent) => tree.nodes[parent].children.push(id),
                    None => root = Some(id),
                }
                if !empty {
                    stack.push(id);
                }
            }
            Event::End(_) => {
                stack.pop();
            }
            Event::Text(t) => {
                let text = t
                    .xml10_content()
                    .map_err(|e| malformed_at(src, pos, &format!("texte illisible ({e})")))?;
                if text.contains("]]>") {
                    return Err(malformed_at(src, pos, "« ]]> » hors d'une section CDATA"));
                }
                match stack.last() {
                    Some(&node) => tree.nodes[node].text.push_str(&text),
                    None if text.chars().all(is_xml_space) => {}
                    None => {
                        return Err(malformed_at(
                            src,
                            pos,
                            "du texte se trouve hors de l'élément racine",
                        ))
                    }
                }
            }
            Event::GeneralRef(r) => {
                let Some(&node) = stack.last() else {
                    return Err(malformed_at(
                        src,
                        pos,
                        "une référence se trouve hors de l'élément racine",
                    ));
                };
                let c = if r.is_char_ref() {
                    match r.resolve_char_ref() {
                        Ok(Some(c)) if is_xml_char(c) => c,
                        _ => return Err(malformed_at(src, pos, "référence de caractère invalide")),
                    }
                } else {
                    match r.as_ref() {
                        b"amp" => '&',
                        b"lt" => '<',
                        b"gt" => '>',
                        b"quot" => '"',
                        b"apos" => '\'',
                        other => {
                            return Err(malformed_at(
                                src,
                                pos,
                                &format!(
                                    "entité « &{}; » inconnue",
                                    String::from_utf8_lossy(other)
                                ),
                            ))
                        }
                    }
                };
                tree.nodes[node].text.push(c);
            }
            Event::CData(c) => {
                let Some(&node) = stack.last() else {
                    return Err(malformed_at(
                        src,
                        pos,
                        "une section CDATA se trouve hors de l'élément racine",
                    ));
                };
                let text = c
                    .decode()
                    .map_err(|e| malformed_at(src, pos, &format!("CDATA illisible ({e})")))?;
                tree.nodes[node]
                    .text
                    .push_str(&text.replace("\r\n", "\n").replace('\r', "\n"));
                tree.nodes[node].cdata = true;
            }
            Event::Decl(d) => {
                if !was_first {
                    return Err(malformed_at(
                        src,
                        pos,
                        "la déclaration <?xml …?> n'est pas au début du fichier",
                    ));
                }
                if let Some(Ok(enc)) = d.encoding() {
                    let enc = String::from_utf8_lossy(&enc).to_ascii_uppercase();
                    if enc != "UTF-8" && enc != "UTF8" {
                        return Err(refuse(format!(
                            "Le fichier se déclare encodé en {enc} ; un relevé camt.053 doit \
                             être encodé en UTF-8."
                        )));
                    }
                }
            }
            Event::DocType(_) => {
                return Err(refuse(
                    "Le fichier contient une déclaration DOCTYPE, refusée par sécurité : \
                     un relevé bancaire n'en contient jamais.",
                ))
            }
            Event::Comment(_) | Event::PI(_) => {}
            Event::Eof => break,
        }
    }
    if let Some(&open) = stack.last() {
        let name = &tree.nodes[open].name;
        return Err(malformed_at(
            src,
            src.len(),
            &format!("l'élément <{name}> n'est jamais fermé"),
        ));
    }
    tree.root = root.ok_or_else(|| refuse("Le fichier ne contient aucun élément XML."))?;
    Ok(tree)
}

enum Resolved {
    Ns(Ns),
    UnknownPrefix(String),
}

fn intern_resolved(tree: &mut Tree, resolved: ResolveResult<'_>) -> Resolved {
    match resolved {
        ResolveResult::Bound(ns) => Resolved::Ns(Some(intern(tree, ns.as_ref()))),
        ResolveResult::Unbound => Resolved::Ns(None),
        ResolveResult::Unknown(prefix) => {
            Resolved::UnknownPrefix(String::from_utf8_lossy(&prefix).into_owned())
        }
    }
}

fn intern(tree: &mut Tree, uri: &[u8]) -> u32 {
    let uri = String::from_utf8_lossy(uri);
    match tree.namespaces.iter().position(|n| *n == uri) {
        Some(i) => i as u32,
        None => {
            tree.namespaces.push(uri.into_owned());
            (tree.namespaces.len() - 1) as u32
        }
    }
}

/// quick-xml's errors, in French.
fn xml_error(e: &quick_xml::Error) -> String {
    use quick_xml::errors::{IllFormedError, SyntaxError};
    use quick_xml::Error;
    match e {
        Error::Syntax(s) => match s {
            SyntaxError::InvalidBangMarkup => "balise <! … > incorrecte".into(),
            SyntaxError::UnclosedPIOrXmlDecl => "instruction <? … ?> non fermée".into(),
            SyntaxError::UnclosedComment => "commentaire <!-- … --> non fermé".into(),
            SyntaxError::UnclosedDoctype => "déclaration DOCTYPE non fermée".into(),
            SyntaxError::UnclosedCData => "section CDATA non fermée".into(),
            SyntaxError::UnclosedTag => "balise non fermée (« > » manquant)".into(),
        },
        Error::IllFormed(i) => match i {
            IllFormedError::MissingEndTag(name) => {
                format!("l'élément <{}> n'est jamais fermé", shorten(name))
            }
            IllFormedError::UnmatchedEndTag(name) => {
                format!("balise fermante </{}> sans balise ouvrante", shorten(name))
            }
            IllFormedError::MismatchedEndTag { expected, found } => format!(
                "balise fermante </{}> trouvée là où </{}> était attendue",
                shorten(found),
                shorten(expected)
            ),
            IllFormedError::DoubleHyphenInComment => "« -- » dans un commentaire".into(),
            IllFormedError::UnclosedReference => {
                "« & » non suivi d'une référence terminée par « ; »".into()
            }
            other => format!("déclaration incorrecte ({other})"),
        },
        Error::InvalidAttr(a) => attr_error(a),
        Error::Escape(x) => format!("référence ou entité incorrecte ({x})"),
        Error::Namespace(n) => format!("déclaration d'espace de noms incorrecte ({n})"),
        Error::Encoding(x) => format!("encodage incorrect ({x})"),
        Error::Io(x) => format!("lecture impossible ({x})"),
    }
}

fn attr_error(e: &quick_xml::events::attributes::AttrError) -> String {
    use quick_xml::events::attributes::AttrError;
    match e {
        AttrError::ExpectedEq(_) => "attribut sans « = »".into(),
        AttrError::ExpectedValue(_) => "attribut sans valeur".into(),
        AttrError::UnquotedValue(_) => "valeur d'attribut sans guillemets".into(),
        AttrError::ExpectedQuote(..) => "guillemet fermant manquant dans un attribut".into(),
        AttrError::Duplicated(..) => "attribut écrit deux fois dans la même balise".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::{parse, MAX_DEPTH};

    #[test]
    fn prefixes_do_not_matter_only_namespaces_do() {
        let prefixed = SAMPLE
            .replace("<Document xmlns=", "<c:Document xmlns:c=")
            .replace("</", "</c:")
            .replace("<c:/", "</")
            .replace('<', "<c:")
            .replace("<c:/c:", "</c:")
            .replace("<c:?xml", "<?xml")
            .replace("<c:c:", "<c:");
        assert_eq!(parse(prefixed.as_bytes()), parse(SAMPLE.as_bytes()));
    }

    #[test]
    fn refuses_files_that_are_not_plain_xml() {
        let doctype = SAMPLE.replacen(
            "<Document",
            "<!DOCTYPE Document [<!ENTITY x \"xx\">]>\n<Document",
            1,
        );
        assert_mentions(&refused(&doctype), &["DOCTYPE", "sécurité"]);
        let reason = refused(&changed("</Sts>", "</Status>"));
        assert_mentions(
            &reason,
            &["pas un XML bien formé (ligne 15)", "</Status>", "</Sts>"],
        );
        assert_mentions(
            &refused(&changed("&amp;", "&nbsp;")),
            &["bien formé (ligne 25)", "&nbsp;"],
        );
        let truncated = &SAMPLE[..SAMPLE.find("</Stmt>").unwrap()];
        assert_mentions(
            &refused(truncated),
            &["bien formé", "<Stmt> n'est jamais fermé"],
        );
        assert_mentions(
            &refused(&SAMPLE[..SAMPLE.len() - 5]),
            &["bien formé", "non fermée"],
        );
        assert_mentions(
            &refused(&format!("{SAMPLE}<Document/>")),
            &["second élément racine"],
        );
        assert_mentions(&refused(""), &["vide"]);
        assert_mentions(&refused("du texte"), &["bien formé"]);
        let latin1 = changed("UTF-8", "ISO-8859-1");
        assert_mentions(&refused(&latin1), &["ISO-8859-1", "UTF-8"]);
        let mut bytes = SAMPLE.as_bytes().to_vec();
        let at = SAMPLE.find("Région").unwrap() + 1;
        bytes[at] = 0xE9; // "é" as ISO-8859-1 writes it
        assert_mentions(&parse(&bytes).unwrap_err().reason, &["UTF-8", "ligne 25"]);
        assert_mentions(
            &refused(&changed("LIBRE", "LI\u{1}BRE")),
            &["caractère interdit"],
        );
        let with_bom = format!("\u{FEFF}{SAMPLE}");
        assert!(parse(with_bom.as_bytes()).is_ok());
    }

    #[test]
    fn refuses_deep_nesting() {
        let deep = format!(
            "<SplmtryData><Envlp>{}{}</Envlp></SplmtryData></BkToCstmrStmt>",
            "<a>".repeat(MAX_DEPTH),
            "</a>".repeat(MAX_DEPTH)
        );
        let xml = changed("</BkToCstmrStmt>", &deep);
        assert_mentions(&refused(&xml), &["plus de 64 niveaux"]);
        // Shallow supplementary data is let through unread.
        let shallow = changed(
            "</BkToCstmrStmt>",
            "<SplmtryData><Envlp><a><b/></a></Envlp></SplmtryData></BkToCstmrStmt>",
        );
        assert!(parse(shallow.as_bytes()).is_ok());
    }
}
