//! Reads the bank's end-of-day account statement, ISO 20022 camt.053.001.08
//! (BankToCustomerStatementV08), into entries the treasury can match against fundings and
//! settlements.
//!
//! A file is refused, with a reason in French for the accountant, unless it is valid against
//! schemas/camt.053.001.08.xsd. That schema is embedded and interpreted here rather than by an
//! XSD crate: the one pure-Rust validator on crates.io ignored namespaces (it let a camt.053.001.02
//! file through) and missed several other violations that xmllint reports. The schema uses only
//! a small part of XSD, all of which is implemented here, and loading it fails on anything else
//! (tested), so a change of schema cannot silently weaken the check. What is checked:
//!
//! - well-formed XML 1.0 in UTF-8 (optional BOM; a declared encoding other than UTF-8 is
//!   refused); no DOCTYPE (so no entity expansion); at most [`MAX_DEPTH`] levels of nesting;
//! - the root is `Document` in [`NAMESPACE`]; another ISO 20022 message or another version of
//!   camt.053 gets a message that names it;
//! - every element, on every path of the schema: its name and namespace, order and number of
//!   occurrences in each `xs:sequence`, one branch per `xs:choice`, no text in element-only
//!   content, no child elements in simple content;
//! - attributes: the declared ones (`Ccy`) required and valid, no others, except
//!   `xsi:schemaLocation` and `xsi:noNamespaceSchemaLocation`; `xsi:type` and `xsi:nil` are
//!   refused (xmllint would interpret them; no bank sends them);
//! - simple values: xs:string, xs:decimal, xs:boolean, xs:date, xs:dateTime and xs:gYearMonth
//!   (real dates, leap years, time zones), and the facets minLength, maxLength, pattern,
//!   enumeration, totalDigits, fractionDigits and minInclusive. As in libxml2, leading or
//!   trailing spaces are accepted around decimals and booleans and refused around dates;
//! - `SplmtryData/Envlp` (`xs:any`, lax): any well-formed content, checked only if it is itself
//!   a camt.053.001.08 `Document`.
//!
//! Then, on what is read: amounts are exact integers of cents (no floats) with at most 2
//! significant decimals ("1.50000" is 150, "1.005" is refused), entry and transaction amounts
//! are above zero, nothing overflows i64, and dates have a 4-digit year. Text is read trimmed;
//! a blank optional value counts as absent, a blank GrpHdr/MsgId, Stmt/Id or Sts is refused.
//!
//! Checked against xmllint on the sample files of the tests and on 13,000 random structural
//! mutations of three statements: the same verdict every time. Known differences, both on
//! files no bank sends: a declared encoding other than UTF-8, and `xsi:type`/`xsi:nil`.

use quick_xml::events::Event;
use quick_xml::name::ResolveResult;
use quick_xml::reader::NsReader;
use std::collections::HashMap;
use std::fmt;
use std::sync::LazyLock;

/// The namespace of camt.053.001.08, the only version accepted.
pub const NAMESPACE: &str = "urn:iso:std:iso:20022:tech:xsd:camt.053.001.08";

/// The schema the file must be valid against; the same file xmllint uses in the tests.
const SCHEMA_XSD: &str = include_str!("../../schemas/camt.053.001.08.xsd");

/// Deeper than any path of the schema (about 20 levels) with room for supplementary data, and
/// low enough that the recursive checks cannot exhaust the stack.
pub const MAX_DEPTH: usize = 64;

const XSD_NS: &str = "http://www.w3.org/2001/XMLSchema";
const XSI_NS: &str = "http://www.w3.org/2001/XMLSchema-instance";

/// One statement file: a group header and one statement per account (usually one).
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    /// GrpHdr/MsgId.
    pub message_id: String,
    /// GrpHdr/CreDtTm as written (an xs:dateTime).
    pub created_at: String,
    pub statements: Vec<Statement>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    /// Stmt/Id.
    pub id: String,
    /// Acct/Id/IBAN (an account may be identified otherwise: then None).
    pub iban: Option<String>,
    /// Acct/Ccy.
    pub currency: Option<String>,
    /// The Bal whose type is OPBD, or else PRCD (previous closing, which some banks send
    /// instead).
    pub opening: Option<Balance>,
    /// The Bal whose type is CLBD.
    pub closing: Option<Balance>,
    pub entries: Vec<Entry>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Balance {
    /// Negative when CdtDbtInd is DBIT (overdrawn).
    pub cents: i64,
    /// YYYY-MM-DD, from Dt/Dt or the date part of Dt/DtTm.
    pub date: String,
    pub currency: String,
}

/// One booked (or pending) movement of the account: Ntry.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// 1-based position in its statement, for messages.
    pub index: usize,
    /// NtryRef.
    pub entry_ref: Option<String>,
    /// AcctSvcrRef: the bank's own reference, unique per account in practice.
    pub account_servicer_ref: Option<String>,
    /// Always above zero: the direction is `credit`.
    pub cents: i64,
    pub currency: String,
    /// CdtDbtInd is CRDT.
    pub credit: bool,
    /// RvslInd: the entry cancels an earlier one.
    pub reversal: bool,
    /// Sts/Cd (BOOK, PDNG, INFO…), or Sts/Prtry when the bank uses its own code.
    pub status: String,
    pub booking_date: Option<String>,
    pub value_date: Option<String>,
    /// BkTxCd/Domn: (Cd, Fmly/Cd, SubFmlyCd), e.g. ("PMNT", "RCDT", "ESCT").
    pub bank_code: Option<(String, String, String)>,
    pub transactions: Vec<Transaction>,
}

/// One transaction of an entry: NtryDtls/TxDtls. A batch reported without its transactions
/// (NtryDtls/Btch alone) gives one Transaction with the batch's MsgId, PmtInfId and TtlAmt.
#[derive(Debug, Clone, PartialEq)]
pub struct Transaction {
    /// Amt, or else AmtDtls/TxAmt/Amt; above zero.
    pub cents: Option<i64>,
    /// Refs/MsgId, or else the MsgId of its NtryDtls/Btch: the SEPA file's GrpHdr/MsgId.
    pub message_id: Option<String>,
    /// Refs/PmtInfId, or else that of its NtryDtls/Btch.
    pub payment_info_id: Option<String>,
    pub instruction_id: Option<String>,
    /// Refs/EndToEndId; None when absent or NOTPROVIDED (what banks write for "none").
    pub end_to_end_id: Option<String>,
    /// Every RmtInf/Ustrd, then every RmtInf/Strd/CdtrRefInf/Ref.
    pub remittance: Vec<String>,
    /// RtrInf/Rsn/Cd (e.g. AC04), or else RtrInf/Rsn/Prtry.
    pub return_reason: Option<String>,
    /// RtrInf/AddtlInf, joined with spaces.
    pub return_info: Option<String>,
    /// The name of RltdPties/Dbtr for a credit, RltdPties/Cdtr for a debit.
    pub counterparty: Option<String>,
}

/// Why a file is refused: one sentence in French, naming the element (and its line) when
/// there is one.
#[derive(Debug, Clone, PartialEq)]
pub struct StatementError {
    pub reason: String,
}

impl fmt::Display for StatementError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reason)
    }
}

impl std::error::Error for StatementError {}

/// A refusal: always one line, whatever names or values from the file it quotes.
fn refuse(reason: impl Into<String>) -> StatementError {
    let reason: String = reason.into();
    let mut one_line = String::with_capacity(reason.len());
    for c in reason.chars() {
        let c = if c.is_control() { ' ' } else { c };
        if !(c == ' ' && one_line.ends_with(' ')) {
            one_line.push(c);
        }
    }
    StatementError { reason: one_line }
}

/// Reads a statement file: refused unless it is valid against the schema and its amounts and
/// dates make sense.
pub fn parse(bytes: &[u8]) -> Result<Document, StatementError> {
    let (tree, src) = validated(bytes)?;
    extract(&tree, src)
}

/// Checks a file against the schema only (what `xmllint --schema` decides), without reading
/// it; `parse` does this first.
pub fn validate(bytes: &[u8]) -> Result<(), StatementError> {
    validated(bytes).map(|_| ())
}

fn validated(bytes: &[u8]) -> Result<(Tree, &str), StatementError> {
    let src = decode(bytes)?;
    let tree = read_tree(src)?;
    check_root(&tree)?;
    let schema = match &*SCHEMA {
        Ok(schema) => schema,
        Err(e) => {
            return Err(refuse(format!(
                "Le schéma camt.053.001.08 de l'application est illisible ({e}) : \
                 aucun relevé ne peut être contrôlé, prévenez l'équipe technique."
            )))
        }
    };
    schema
        .check_document(&tree)
        .map_err(|f| f.into_error(&tree, src))?;
    Ok((tree, src))
}

// ---------------------------------------------------------------------------------------------
// XML to a small tree. The whole file is kept: a statement is at most a few megabytes, and the
// schema check needs to look at siblings.

/// A namespace, as an index into `Tree::namespaces`.
type Ns = Option<u32>;

struct Tree {
    nodes: Vec<Node>,
    namespaces: Vec<String>,
    root: usize,
}

struct Node {
    ns: Ns,
    name: String,
    attrs: Vec<Attr>,
    /// All character data directly inside the element, references resolved.
    text: String,
    /// Some of that text came from a CDATA section, which element-only content refuses even
    /// when it is blank (as libxml2 does).
    cdata: bool,
    children: Vec<usize>,
    /// Byte offset of the start tag, for the line number in messages.
    pos: usize,
}

struct Attr {
    ns: Ns,
    /// The name as written (with its prefix), for messages.
    qname: String,
    name: String,
    value: String,
}

impl Tree {
    fn ns_is(&self, ns: Ns, uri: &str) -> bool {
        ns.is_some_and(|i| self.namespaces[i as usize] == uri)
    }

    fn ns_name(&self, ns: Ns) -> &str {
        ns.map_or("", |i| self.namespaces[i as usize].as_str())
    }

    /// The children named `name` in the namespace of `parent` (all of the schema's elements
    /// are in one namespace).
    fn kids<'a>(&'a self, parent: usize, name: &'a str) -> impl Iterator<Item = usize> + 'a {
        let ns = self.nodes[parent].ns;
        self.nodes[parent]
            .children
            .iter()
            .copied()
            .filter(move |&k| self.nodes[k].ns == ns && self.nodes[k].name == name)
    }

    fn kid(&self, parent: usize, name: &str) -> Option<usize> {
        self.kids(parent, name).next()
    }

    /// The node at the end of a path of child names.
    fn at(&self, from: usize, path: &[&str]) -> Option<usize> {
        path.iter()
            .try_fold(from, |node, name| self.kid(node, name))
    }

    fn attr(&self, node: usize, name: &str) -> Option<&str> {
        self.nodes[node]
            .attrs
            .iter()
            .find(|a| a.ns.is_none() && a.name == name)
            .map(|a| a.value.as_str())
    }
}

fn decode(bytes: &[u8]) -> Result<&str, StatementError> {
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

fn is_xml_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}

fn line_of(bytes: &[u8], pos: usize) -> usize {
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

fn read_tree(src: &str) -> Result<Tree, StatementError> {
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
                    let raw = attr.unescape_value().map_err(|err| {
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

/// A specific message for a file that is not a camt.053.001.08 statement at all.
fn check_root(tree: &Tree) -> Result<(), StatementError> {
    let root = &tree.nodes[tree.root];
    let full_ns = tree.ns_name(root.ns);
    if full_ns == NAMESPACE {
        return Ok(());
    }
    let ns = shorten(full_ns);
    let ns = ns.as_str();
    let Some(message) = full_ns.strip_prefix("urn:iso:std:iso:20022:tech:xsd:") else {
        return Err(refuse(if ns.is_empty() {
            format!(
                "Ce fichier n'est pas un relevé ISO 20022 : son élément racine <{}> n'a pas \
                 d'espace de noms, alors qu'un relevé camt.053.001.08 commence par \
                 <Document xmlns=\"{NAMESPACE}\">.",
                root.name
            )
        } else {
            format!(
                "Ce fichier n'est pas un relevé ISO 20022 : son espace de noms est « {ns} », \
                 alors qu'un relevé camt.053.001.08 a « {NAMESPACE} »."
            )
        }));
    };
    let message = shorten(message);
    let message = message.as_str();
    let kind = message.get(..8).unwrap_or(message);
    let version = message.rsplit('.').next().unwrap_or("");
    Err(refuse(if kind == "camt.053" {
        format!(
            "Ce fichier est un relevé camt.053 en version {version} ({message}) : seule la \
             version 08 (camt.053.001.08) est acceptée ; demandez-la à votre banque."
        )
    } else {
        let what = match kind {
            "pain.001" => "un ordre de virement (pain.001), pas un relevé",
            "pain.002" => "un compte rendu de traitement de virements (pain.002), pas un relevé",
            "pain.008" => "un ordre de prélèvement (pain.008), pas un relevé",
            "camt.052" => "un relevé intrajournalier (camt.052), pas le relevé de fin de journée",
            "camt.054" => {
                "un avis de débit ou de crédit (camt.054), pas le relevé de fin de journée"
            }
            _ => "un autre message ISO 20022, pas un relevé de compte",
        };
        format!(
            "Ce fichier est {what} ({message}) : importez le relevé de fin de journée au \
             format camt.053.001.08."
        )
    }))
}

// ---------------------------------------------------------------------------------------------
// The schema, as far as camt.053.001.08 uses XSD.

static SCHEMA: LazyLock<Result<Schema, String>> = LazyLock::new(|| Schema::load(SCHEMA_XSD));

struct Schema {
    complex: Vec<Complex>,
    simple: Vec<Simple>,
    /// The type of the global element `Document`.
    document: usize,
}

struct Complex {
    content: Content,
}

enum Content {
    Sequence(Vec<Particle>),
    Choice(Vec<Particle>),
    /// A value with attributes (amounts with their currency).
    Simple {
        base: usize,
        attrs: Vec<AttrDecl>,
    },
}

struct Particle {
    /// Empty for the wildcard.
    name: String,
    ty: Ty,
    min: u32,
    max: u32,
}

#[derive(Clone, Copy)]
enum Ty {
    Complex(usize),
    Simple(usize),
    /// xs:any namespace="##any" processContents="lax".
    Any,
}

struct AttrDecl {
    name: String,
    ty: usize,
    required: bool,
}

struct Simple {
    name: String,
    builtin: Builtin,
    /// One set per restriction step, all of which apply.
    facets: Vec<Facets>,
}

#[derive(Clone, Copy, PartialEq)]
enum Builtin {
    String,
    Decimal,
    Boolean,
    Date,
    DateTime,
    GYearMonth,
}

#[derive(Default)]
struct Facets {
    enumeration: Vec<String>,
    /// Alternatives: the value must match one of them.
    patterns: Vec<Pattern>,
    min_length: Option<usize>,
    max_length: Option<usize>,
    total_digits: Option<usize>,
    fraction_digits: Option<usize>,
    /// minInclusive; the schema only ever says 0.
    non_negative: bool,
}

impl Schema {
    fn load(xsd: &str) -> Result<Schema, String> {
        let tree = read_tree(xsd).map_err(|e| e.reason)?;
        let top = &tree.nodes[tree.root];
        if top.name != "schema" || !tree.ns_is(top.ns, XSD_NS) {
            return Err("racine xs:schema attendue".into());
        }
        let xs = |node: usize| -> Result<&str, String> {
            let n = &tree.nodes[node];
            if tree.ns_is(n.ns, XSD_NS) {
                Ok(n.name.as_str())
            } else {
                Err(format!("élément {} hors de l'espace XSD", n.name))
            }
        };
        let name_of = |node: usize| -> Result<String, String> {
            tree.attr(node, "name")
                .map(str::to_owned)
                .ok_or_else(|| "déclaration sans nom".to_string())
        };
        // Names first: types refer to each other in any order.
        let mut complex_names = HashMap::new();
        let mut simple_names = HashMap::new();
        let mut document_type = None;
        for &child in &top.children {
            match xs(child)? {
                "complexType" => {
                    complex_names.insert(name_of(child)?, complex_names.len());
                }
                "simpleType" => {
                    simple_names.insert(name_of(child)?, simple_names.len());
                }
                "element" => {
                    if name_of(child)? != "Document" {
                        return Err("élément global autre que Document".into());
                    }
                    document_type = tree.attr(child, "type").map(str::to_owned);
                }
                "annotation" => {}
                other => return Err(format!("construction xs:{other} non prise en charge")),
            }
        }
        let lookup_simple = |name: &str| -> Result<usize, String> {
            simple_names
                .get(name)
                .copied()
                .ok_or_else(|| format!("type simple {name} inconnu"))
        };
        let type_ref = |name: &str| -> Result<Ty, String> {
            if let Some(&i) = complex_names.get(name) {
                Ok(Ty::Complex(i))
            } else if let Some(&i) = simple_names.get(name) {
                Ok(Ty::Simple(i))
            } else {
                Err(format!("type {name} inconnu ou non pris en charge"))
            }
        };
        let occurs = |node: usize, attr: &str| -> Result<u32, String> {
            match tree.attr(node, attr) {
                None => Ok(1),
                Some("unbounded") => Ok(u32::MAX),
                Some(v) => v.parse().map_err(|_| format!("{attr}={v} illisible")),
            }
        };
        let only_attrs = |node: usize, allowed: &[&str]| -> Result<(), String> {
            match tree.nodes[node]
                .attrs
                .iter()
                .find(|a| !allowed.contains(&a.qname.as_str()))
            {
                Some(a) => Err(format!("attribut {} non pris en charge", a.qname)),
                None => Ok(()),
            }
        };
        let particles = |group: usize| -> Result<Vec<Particle>, String> {
            only_attrs(group, &[])?;
            let mut out = Vec::new();
            for &el in &tree.nodes[group].children {
                match xs(el)? {
                    "element" => {
                        only_attrs(el, &["name", "type", "minOccurs", "maxOccurs"])?;
                        let ty = tree.attr(el, "type").ok_or("élément sans type")?;
                        out.push(Particle {
                            name: name_of(el)?,
                            ty: type_ref(ty)?,
                            min: occurs(el, "minOccurs")?,
                            max: occurs(el, "maxOccurs")?,
                        });
                    }
                    "any" => {
                        only_attrs(
                            el,
                            &["namespace", "processContents", "minOccurs", "maxOccurs"],
                        )?;
                        if tree.attr(el, "namespace") != Some("##any")
                            || tree.attr(el, "processContents") != Some("lax")
                        {
                            return Err("xs:any autre que ##any lax".into());
                        }
                        out.push(Particle {
                            name: String::new(),
                            ty: Ty::Any,
                            min: occurs(el, "minOccurs")?,
                            max: occurs(el, "maxOccurs")?,
                        });
                    }
                    other => return Err(format!("xs:{other} dans un groupe non pris en charge")),
                }
            }
            Ok(out)
        };

        let mut complex = Vec::with_capacity(complex_names.len());
        let mut simple: Vec<Simple> = Vec::with_capacity(simple_names.len());
        // Simple types: restrictions of a built-in (the schema has no deeper derivation).
        for &child in &top.children {
            if xs(child)? != "simpleType" {
                continue;
            }
            only_attrs(child, &["name"])?;
            let [restriction] = tree.nodes[child].children[..] else {
                return Err("xs:simpleType sans xs:restriction unique".into());
            };
            if xs(restriction)? != "restriction" {
                return Err("xs:simpleType autre qu'une restriction".into());
            }
            only_attrs(restriction, &["base"])?;
            let builtin = match tree.attr(restriction, "base") {
                Some("xs:string") => Builtin::String,
                Some("xs:decimal") => Builtin::Decimal,
                Some("xs:boolean") => Builtin::Boolean,
                Some("xs:date") => Builtin::Date,
                Some("xs:dateTime") => Builtin::DateTime,
                Some("xs:gYearMonth") => Builtin::GYearMonth,
                other => return Err(format!("base {other:?} non prise en charge")),
            };
            let mut facets = Facets::default();
            for &facet in &tree.nodes[restriction].children {
                only_attrs(facet, &["value"])?;
                let value = tree.attr(facet, "value").ok_or("facette sans valeur")?;
                let number = || {
                    value
                        .parse::<usize>()
                        .map_err(|_| format!("facette {value} illisible"))
                };
                match xs(facet)? {
                    "enumeration" => facets.enumeration.push(value.to_owned()),
                    "pattern" => facets.patterns.push(Pattern::compile(value)?),
                    "minLength" => facets.min_length = Some(number()?),
                    "maxLength" => facets.max_length = Some(number()?),
                    "totalDigits" => facets.total_digits = Some(number()?),
                    "fractionDigits" => facets.fraction_digits = Some(number()?),
                    "minInclusive" if builtin == Builtin::Decimal => match parse_decimal(value) {
                        Some(d) if d.is_zero() => facets.non_negative = true,
                        _ => return Err(format!("minInclusive {value} non pris en charge")),
                    },
                    other => return Err(format!("facette xs:{other} non prise en charge")),
                }
            }
            simple.push(Simple {
                name: name_of(child)?,
                builtin,
                facets: vec![facets],
            });
        }
        for &child in &top.children {
            if xs(child)? != "complexType" {
                continue;
            }
            only_attrs(child, &["name"])?;
            let [group] = tree.nodes[child].children[..] else {
                return Err("xs:complexType sans contenu unique".into());
            };
            let content = match xs(group)? {
                "sequence" => Content::Sequence(particles(group)?),
                "choice" => Content::Choice(particles(group)?),
                "simpleContent" => {
                    let [extension] = tree.nodes[group].children[..] else {
                        return Err("xs:simpleContent sans xs:extension unique".into());
                    };
                    if xs(extension)? != "extension" {
                        return Err("xs:simpleContent autre qu'une extension".into());
                    }
                    only_attrs(extension, &["base"])?;
                    let base = lookup_simple(tree.attr(extension, "base").unwrap_or(""))?;
                    let mut attrs = Vec::new();
                    for &a in &tree.nodes[extension].children {
                        if xs(a)? != "attribute" {
                            return Err("xs:extension avec autre chose que des attributs".into());
                        }
                        only_attrs(a, &["name", "type", "use"])?;
                        attrs.push(AttrDecl {
                            name: name_of(a)?,
                            ty: lookup_simple(tree.attr(a, "type").unwrap_or(""))?,
                            required: tree.attr(a, "use") == Some("required"),
                        });
                    }
                    Content::Simple { base, attrs }
                }
                other => return Err(format!("contenu xs:{other} non pris en charge")),
            };
            if let Content::Choice(options) = &content {
                if options.iter().any(|p| matches!(p.ty, Ty::Any)) {
                    return Err("xs:any dans un xs:choice non pris en charge".into());
                }
            }
            complex.push(Complex { content });
        }
        let document = match document_type.as_deref().map(type_ref) {
            Some(Ok(Ty::Complex(i))) => i,
            _ => return Err("élément global Document absent ou mal typé".into()),
        };
        Ok(Schema {
            complex,
            simple,
            document,
        })
    }

    fn check_document(&self, tree: &Tree) -> Result<(), Fail> {
        let root = &tree.nodes[tree.root];
        if root.name != "Document" || !tree.ns_is(root.ns, NAMESPACE) {
            return Err(Fail::at(
                tree.root,
                vec![],
                format!(
                    "l'élément racine est <{}> ; un relevé camt.053.001.08 commence par <Document>",
                    root.name
                ),
            ));
        }
        let mut path = vec![Seg {
            name: "Document".into(),
            index: None,
        }];
        self.check(tree, tree.root, Ty::Complex(self.document), &mut path)
    }

    fn check(&self, tree: &Tree, node: usize, ty: Ty, path: &mut Vec<Seg>) -> Result<(), Fail> {
        let n = &tree.nodes[node];
        match ty {
            Ty::Any => {
                // Lax: checked only where the schema declares the element, i.e. a nested
                // Document; anything else is let through unread.
                if n.name == "Document" && tree.ns_is(n.ns, NAMESPACE) {
                    return self.check(tree, node, Ty::Complex(self.document), path);
                }
                Ok(())
            }
            Ty::Simple(s) => {
                self.check_attrs(tree, node, &[], path)?;
                self.check_no_children(tree, node, path)?;
                self.check_value(s, &n.text)
                    .map_err(|msg| Fail::at(node, path.clone(), msg))
            }
            Ty::Complex(c) => match &self.complex[c].content {
                Content::Simple { base, attrs } => {
                    self.check_attrs(tree, node, attrs, path)?;
                    self.check_no_children(tree, node, path)?;
                    self.check_value(*base, &n.text)
                        .map_err(|msg| Fail::at(node, path.clone(), msg))
                }
                Content::Sequence(particles) => {
                    self.check_attrs(tree, node, &[], path)?;
                    self.check_element_only(tree, node, path)?;
                    self.check_sequence(tree, node, particles, path)
                }
                Content::Choice(options) => {
                    self.check_attrs(tree, node, &[], path)?;
                    self.check_element_only(tree, node, path)?;
                    self.check_choice(tree, node, options, path)
                }
            },
        }
    }

    fn check_sequence(
        &self,
        tree: &Tree,
        node: usize,
        particles: &[Particle],
        path: &mut Vec<Seg>,
    ) -> Result<(), Fail> {
        let kids = &tree.nodes[node].children;
        let mut i = 0;
        // Where the elements that may come next start, for the message.
        let mut next_possible = 0;
        for (pi, p) in particles.iter().enumerate() {
            let mut count = 0;
            while count < p.max && i < kids.len() && matches_particle(tree, kids[i], p) {
                self.check_child(tree, kids[i], p, count, path)?;
                count += 1;
                i += 1;
                next_possible = if count < p.max { pi } else { pi + 1 };
            }
            if count < p.min {
                if p.min > 1 && count > 0 {
                    return Err(Fail::at(
                        node,
                        path.clone(),
                        format!(
                            "il faut au moins {} éléments <{}>, il y en a {count}",
                            p.min, p.name
                        ),
                    ));
                }
                return Err(match kids.get(i) {
                    Some(&kid) => {
                        unexpected(tree, kid, path, &expected_here(&particles[next_possible..]))
                    }
                    None => Fail::at(
                        node,
                        path.clone(),
                        format!("il manque l'élément obligatoire <{}>", p.name),
                    ),
                });
            }
        }
        match kids.get(i) {
            None => Ok(()),
            Some(&kid) => {
                let n = &tree.nodes[kid];
                let known = particles.iter().any(|p| matches_particle(tree, kid, p));
                if !tree.ns_is(n.ns, NAMESPACE) {
                    return Err(unexpected(tree, kid, path, "rien de plus"));
                }
                let msg = if known {
                    format!(
                        "l'élément <{}> est mal placé ou en trop (la norme fixe l'ordre et le \
                         nombre des éléments de <{}>)",
                        n.name, tree.nodes[node].name
                    )
                } else {
                    format!(
                        "l'élément <{}> n'existe pas dans <{}> selon la norme camt.053.001.08",
                        n.name, tree.nodes[node].name
                    )
                };
                Err(Fail::at(kid, with_kid(tree, path, kid), msg))
            }
        }
    }

    fn check_choice(
        &self,
        tree: &Tree,
        node: usize,
        options: &[Particle],
        path: &mut Vec<Seg>,
    ) -> Result<(), Fail> {
        let kids = &tree.nodes[node].children;
        let names = || {
            options
                .iter()
                .map(|p| format!("<{}>", p.name))
                .collect::<Vec<_>>()
                .join(" ou ")
        };
        let Some(&first) = kids.first() else {
            if options.iter().any(|p| p.min == 0) {
                return Ok(());
            }
            return Err(Fail::at(
                node,
                path.clone(),
                format!("il manque {} (l'un des deux)", names()),
            ));
        };
        let Some(p) = options.iter().find(|p| matches_particle(tree, first, p)) else {
            return Err(unexpected(tree, first, path, &names()));
        };
        let mut count = 0;
        while count < p.max
            && (count as usize) < kids.len()
            && matches_particle(tree, kids[count as usize], p)
        {
            self.check_child(tree, kids[count as usize], p, count, path)?;
            count += 1;
        }
        if count < p.min {
            return Err(Fail::at(
                node,
                path.clone(),
                format!(
                    "il faut au moins {} éléments <{}>, il y en a {count}",
                    p.min, p.name
                ),
            ));
        }
        match kids.get(count as usize) {
            None => Ok(()),
            Some(&kid) => Err(Fail::at(
                kid,
                with_kid(tree, path, kid),
                format!("un seul choix est permis ici parmi {}", names()),
            )),
        }
    }

    fn check_child(
        &self,
        tree: &Tree,
        kid: usize,
        p: &Particle,
        count: u32,
        path: &mut Vec<Seg>,
    ) -> Result<(), Fail> {
        let index = (p.max > 1).then_some(count as usize + 1);
        path.push(Seg {
            name: tree.nodes[kid].name.clone(),
            index,
        });
        let result = self.check(tree, kid, p.ty, path);
        path.pop();
        result
    }

    fn check_attrs(
        &self,
        tree: &Tree,
        node: usize,
        decls: &[AttrDecl],
        path: &[Seg],
    ) -> Result<(), Fail> {
        let n = &tree.nodes[node];
        for a in &n.attrs {
            let attr_path = || {
                let mut p = path.to_vec();
                p.push(Seg {
                    name: format!("@{}", a.qname),
                    index: None,
                });
                p
            };
            if tree.ns_is(a.ns, XSI_NS) {
                if a.name == "schemaLocation" || a.name == "noNamespaceSchemaLocation" {
                    continue;
                }
                return Err(Fail::at(
                    node,
                    attr_path(),
                    format!("l'attribut {} n'est pas accepté dans un relevé", a.qname),
                ));
            }
            match decls.iter().find(|d| a.ns.is_none() && d.name == a.name) {
                Some(d) => self
                    .check_value(d.ty, &a.value)
                    .map_err(|msg| Fail::at(node, attr_path(), msg))?,
                None => {
                    return Err(Fail::at(
                        node,
                        attr_path(),
                        format!(
                            "l'attribut « {} » n'est pas permis sur <{}>",
                            a.qname, n.name
                        ),
                    ))
                }
            }
        }
        for d in decls.iter().filter(|d| d.required) {
            if tree.attr(node, &d.name).is_none() {
                let what = if d.name == "Ccy" {
                    " (le code devise, par exemple EUR)"
                } else {
                    ""
                };
                return Err(Fail::at(
                    node,
                    path.to_vec(),
                    format!("il manque l'attribut obligatoire {}{what}", d.name),
                ));
            }
        }
        Ok(())
    }

    fn check_no_children(&self, tree: &Tree, node: usize, path: &[Seg]) -> Result<(), Fail> {
        match tree.nodes[node].children.first() {
            None => Ok(()),
            Some(&kid) => Err(Fail::at(
                kid,
                with_kid(tree, path, kid),
                format!(
                    "<{}> contient une valeur, pas de sous-élément comme <{}>",
                    tree.nodes[node].name, tree.nodes[kid].name
                ),
            )),
        }
    }

    fn check_element_only(&self, tree: &Tree, node: usize, path: &[Seg]) -> Result<(), Fail> {
        let n = &tree.nodes[node];
        let text = n.text.trim_matches(is_xml_space);
        if text.is_empty() && !n.cdata {
            return Ok(());
        }
        Err(Fail::at(
            node,
            path.to_vec(),
            format!(
                "<{}> ne doit contenir que des sous-éléments, pas le texte « {} »",
                n.name,
                shorten(text)
            ),
        ))
    }

    /// Checks a simple value; the message says what is wrong with it.
    fn check_value(&self, ty: usize, raw: &str) -> Result<(), String> {
        let st = &self.simple[ty];
        let shown = shorten(raw);
        let value = match st.builtin {
            // libxml2 collapses blanks around these and not around dates; so do we.
            Builtin::Decimal | Builtin::Boolean => raw.trim_matches(is_xml_space),
            _ => raw,
        };
        let decimal = match st.builtin {
            Builtin::String => None,
            Builtin::Decimal => match parse_decimal(value) {
                Some(d) => Some(d),
                None => {
                    return Err(format!(
                        "« {shown} » n'est pas un nombre décimal valide (chiffres et point \
                         décimal, par exemple 1234.50)"
                    ))
                }
            },
            Builtin::Boolean => {
                if matches!(value, "true" | "false" | "1" | "0") {
                    None
                } else {
                    return Err(format!(
                        "« {shown} » n'est pas une valeur booléenne (true ou false)"
                    ));
                }
            }
            Builtin::Date => {
                if is_xsd_date(value) {
                    None
                } else {
                    return Err(format!(
                        "« {shown} » n'est pas une date valide (AAAA-MM-JJ)"
                    ));
                }
            }
            Builtin::DateTime => {
                if is_xsd_date_time(value) {
                    None
                } else {
                    return Err(format!(
                        "« {shown} » n'est pas une date et heure valide (AAAA-MM-JJThh:mm:ss)"
                    ));
                }
            }
            Builtin::GYearMonth => {
                if is_xsd_year_month(value) {
                    None
                } else {
                    return Err(format!("« {shown} » n'est pas un mois valide (AAAA-MM)"));
                }
            }
        };
        for f in &st.facets {
            let length = value.chars().count();
            if f.min_length.is_some_and(|min| length < min) {
                return Err(if length == 0 {
                    "la valeur est vide alors qu'elle est obligatoire".to_string()
                } else {
                    format!(
                        "« {shown} » est trop court ({length} caractères, au moins {} attendus)",
                        f.min_length.unwrap_or(0)
                    )
                });
            }
            if let Some(max) = f.max_length.filter(|&max| length > max) {
                return Err(format!(
                    "« {shown} » est trop long ({length} caractères, au plus {max} permis)"
                ));
            }
            if !f.patterns.is_empty() && !f.patterns.iter().any(|p| p.is_match(value)) {
                return Err(format!(
                    "« {shown} » {}",
                    pattern_hint(&st.name, &f.patterns[0])
                ));
            }
            if !f.enumeration.is_empty() && !f.enumeration.iter().any(|e| e == value) {
                return Err(if f.enumeration.len() <= 8 {
                    format!(
                        "« {shown} » n'est pas une valeur permise ({})",
                        f.enumeration.join(", ")
                    )
                } else {
                    format!("« {shown} » n'est pas une valeur permise par la norme")
                });
            }
            if let Some(d) = &decimal {
                if let Some(max) = f.fraction_digits.filter(|&max| d.fraction_digits() > max) {
                    return Err(format!(
                        "« {shown} » a {} décimales, au plus {max} permises",
                        d.fraction_digits()
                    ));
                }
                if let Some(max) = f.total_digits.filter(|&max| d.total_digits() > max) {
                    return Err(format!(
                        "« {shown} » a {} chiffres, au plus {max} permis",
                        d.total_digits()
                    ));
                }
                if f.non_negative && d.negative && !d.is_zero() {
                    return Err(format!(
                        "le montant « {shown} » est négatif ; un montant de relevé est toujours \
                         positif, son sens étant donné par CdtDbtInd (CRDT ou DBIT)"
                    ));
                }
            }
        }
        Ok(())
    }
}

/// What to say when a value does not match its pattern: plain words for the usual types.
fn pattern_hint(type_name: &str, pattern: &Pattern) -> String {
    match type_name {
        "IBAN2007Identifier" => {
            "n'est pas un IBAN de forme valide (2 lettres majuscules, 2 chiffres, \
             puis lettres et chiffres, sans espace)"
                .into()
        }
        "ActiveOrHistoricCurrencyCode" | "ActiveCurrencyCode" => {
            "n'est pas un code devise de 3 lettres majuscules (par exemple EUR)".into()
        }
        "BICFIDec2014Identifier" | "AnyBICDec2014Identifier" => {
            "n'est pas un code BIC de forme valide".into()
        }
        "CountryCode" => "n'est pas un code pays de 2 lettres majuscules (par exemple FR)".into(),
        _ => format!(
            "n'a pas la forme imposée par la norme (motif {})",
            pattern.source
        ),
    }
}

fn matches_particle(tree: &Tree, node: usize, p: &Particle) -> bool {
    match p.ty {
        Ty::Any => true,
        _ => tree.nodes[node].name == p.name && tree.ns_is(tree.nodes[node].ns, NAMESPACE),
    }
}

/// The elements that could come at this point of a sequence: up to the first required one.
fn expected_here(rest: &[Particle]) -> String {
    const SHOWN: usize = 5;
    let mut names = Vec::new();
    let mut more = false;
    for p in rest {
        if names.len() == SHOWN {
            more = true;
            break;
        }
        names.push(if p.name.is_empty() {
            "un élément".to_string()
        } else {
            format!("<{}>", p.name)
        });
        if p.min > 0 {
            break;
        }
    }
    match names.len() {
        0 => "rien de plus".to_string(),
        1 => names.remove(0),
        _ => format!(
            "l'un de {}{}",
            names.join(", "),
            if more { "…" } else { "" }
        ),
    }
}

fn unexpected(tree: &Tree, kid: usize, path: &[Seg], expected: &str) -> Fail {
    let n = &tree.nodes[kid];
    let msg = if tree.ns_is(n.ns, NAMESPACE) {
        format!(
            "l'élément <{}> n'est pas permis à cet endroit ; attendu : {expected}",
            n.name
        )
    } else {
        let ns = tree.ns_name(n.ns);
        let ns = if ns.is_empty() {
            "sans espace de noms".to_string()
        } else {
            format!("dans l'espace de noms « {} »", shorten(ns))
        };
        format!(
            "l'élément <{}> est {ns} au lieu de « {NAMESPACE} » ; attendu : {expected}",
            n.name
        )
    };
    Fail::at(kid, with_kid(tree, path, kid), msg)
}

fn with_kid(tree: &Tree, path: &[Seg], kid: usize) -> Vec<Seg> {
    let mut p = path.to_vec();
    p.push(Seg {
        name: tree.nodes[kid].name.clone(),
        index: None,
    });
    p
}

fn shorten(text: &str) -> String {
    const MAX: usize = 40;
    if text.chars().count() <= MAX {
        text.to_string()
    } else {
        format!("{}…", text.chars().take(MAX).collect::<String>())
    }
}

#[derive(Clone)]
struct Seg {
    name: String,
    /// 1-based position among its siblings of that name, for elements that may repeat.
    index: Option<usize>,
}

/// A violation: where and what; turned into a sentence with the path and line.
struct Fail {
    node: usize,
    path: Vec<Seg>,
    msg: String,
}

impl Fail {
    fn at(node: usize, path: Vec<Seg>, msg: String) -> Fail {
        Fail { node, path, msg }
    }

    fn into_error(self, tree: &Tree, src: &str) -> StatementError {
        let line = line_of(src.as_bytes(), tree.nodes[self.node].pos);
        refuse(format!(
            "Relevé non conforme au schéma camt.053.001.08, {} (ligne {line}) : {}.",
            show_path(&self.path),
            self.msg
        ))
    }
}

/// Stmt[1]/Ntry[3]/Amt: the path below Document/BkToCstmrStmt, which every file shares.
fn show_path(path: &[Seg]) -> String {
    let skip = if path.len() > 2 && path[1].name == "BkToCstmrStmt" {
        2
    } else {
        0
    };
    let shown: Vec<String> = path[skip..]
        .iter()
        .map(|s| match s.index {
            Some(i) => format!("{}[{i}]", s.name),
            None => s.name.clone(),
        })
        .collect();
    if shown.is_empty() {
        "élément racine".to_string()
    } else {
        format!("élément {}", shown.join("/"))
    }
}

// ---------------------------------------------------------------------------------------------
// Simple values.

/// An xs:decimal as written: sign, integer digits, fraction digits.
struct Decimal<'a> {
    negative: bool,
    int: &'a str,
    frac: &'a str,
}

impl Decimal<'_> {
    fn significant_int(&self) -> &str {
        self.int.trim_start_matches('0')
    }
    fn significant_frac(&self) -> &str {
        self.frac.trim_end_matches('0')
    }
    fn is_zero(&self) -> bool {
        self.significant_int().is_empty() && self.significant_frac().is_empty()
    }
    /// As XSD counts them: on the value, so without leading or trailing zeros.
    fn total_digits(&self) -> usize {
        self.significant_int().len() + self.significant_frac().len()
    }
    fn fraction_digits(&self) -> usize {
        self.significant_frac().len()
    }
}

fn parse_decimal(text: &str) -> Option<Decimal<'_>> {
    let (negative, rest) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let (int, frac) = rest.split_once('.').unwrap_or((rest, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if (int.is_empty() && frac.is_empty()) || !digits(int) || !digits(frac) {
        return None;
    }
    Some(Decimal {
        negative,
        int,
        frac,
    })
}

/// Why an amount read from the file cannot be used.
#[derive(Debug, PartialEq)]
enum AmountError {
    NotDecimal,
    Negative,
    TooPrecise,
    TooLarge,
}

/// An amount in cents, exactly: "1234.5" is 123450, "0.10" is 10. More than two significant
/// decimals, a negative amount or one beyond i64 is an error; zero is allowed here (balances).
fn cents_from_decimal(text: &str) -> Result<i64, AmountError> {
    let d = parse_decimal(text.trim_matches(is_xml_space)).ok_or(AmountError::NotDecimal)?;
    if d.negative && !d.is_zero() {
        return Err(AmountError::Negative);
    }
    let frac = d.significant_frac();
    if frac.len() > 2 {
        return Err(AmountError::TooPrecise);
    }
    let mut cents: i64 = 0;
    for b in d
        .int
        .bytes()
        .chain(frac.bytes())
        .chain("00"[frac.len()..].bytes())
    {
        cents = cents
            .checked_mul(10)
            .and_then(|c| c.checked_add(i64::from(b - b'0')))
            .ok_or(AmountError::TooLarge)?;
    }
    Ok(cents)
}

fn digits2(s: &str) -> Option<u32> {
    (s.len() == 2 && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
}

/// `-?YYYY` (more digits allowed, without a leading zero; not 0000), then the rest.
fn split_year(s: &str) -> Option<(i64, &str)> {
    let unsigned = s.strip_prefix('-').unwrap_or(s);
    let len = unsigned.bytes().take_while(u8::is_ascii_digit).count();
    let digits = &unsigned[..len];
    if !(4..=12).contains(&len) || (len > 4 && digits.starts_with('0')) {
        return None;
    }
    let year: i64 = digits.parse().ok()?;
    if year == 0 {
        return None;
    }
    Some((
        if s.starts_with('-') { -year } else { year },
        &unsigned[len..],
    ))
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        _ => 31,
    }
}

fn is_timezone(s: &str) -> bool {
    if s.is_empty() || s == "Z" {
        return true;
    }
    let Some(rest) = s.strip_prefix('+').or_else(|| s.strip_prefix('-')) else {
        return false;
    };
    let Some((h, m)) = rest.split_once(':') else {
        return false;
    };
    matches!((digits2(h), digits2(m)), (Some(h), Some(m)) if m < 60 && (h < 14 || (h == 14 && m == 0)))
}

/// `-?YYYY-MM-DD` and what follows it.
fn split_date(s: &str) -> Option<&str> {
    let (year, rest) = split_year(s)?;
    let rest = rest.strip_prefix('-')?;
    let month = digits2(rest.get(..2)?)?;
    let rest = rest[2..].strip_prefix('-')?;
    let day = digits2(rest.get(..2)?)?;
    ((1..=12).contains(&month) && day >= 1 && day <= days_in_month(year, month)).then(|| &rest[2..])
}

fn is_xsd_date(s: &str) -> bool {
    split_date(s).is_some_and(is_timezone)
}

fn is_xsd_year_month(s: &str) -> bool {
    let Some((_, rest)) = split_year(s) else {
        return false;
    };
    let Some(rest) = rest.strip_prefix('-') else {
        return false;
    };
    rest.get(..2)
        .and_then(digits2)
        .is_some_and(|m| (1..=12).contains(&m))
        && is_timezone(&rest[2..])
}

fn is_xsd_date_time(s: &str) -> bool {
    let Some(rest) = split_date(s).and_then(|r| r.strip_prefix('T')) else {
        return false;
    };
    let (Some(h), Some(m), Some(sec)) = (
        rest.get(..2).and_then(digits2),
        rest.get(2..3)
            .filter(|c| *c == ":")
            .and(rest.get(3..5))
            .and_then(digits2),
        rest.get(5..6)
            .filter(|c| *c == ":")
            .and(rest.get(6..8))
            .and_then(digits2),
    ) else {
        return false;
    };
    let mut rest = &rest[8..];
    let mut fraction_zero = true;
    if let Some(frac) = rest.strip_prefix('.') {
        let len = frac.bytes().take_while(u8::is_ascii_digit).count();
        if len == 0 {
            return false;
        }
        fraction_zero = frac[..len].bytes().all(|b| b == b'0');
        rest = &frac[len..];
    }
    let time_ok =
        (h < 24 && m < 60 && sec < 60) || (h == 24 && m == 0 && sec == 0 && fraction_zero);
    time_ok && is_timezone(rest)
}

// ---------------------------------------------------------------------------------------------
// XSD patterns: the subset the schema uses (classes, ranges, groups, alternatives, counted
// repetition), compiled to a small NFA run in linear time whatever the input.

struct Pattern {
    source: String,
    prog: Vec<Inst>,
}

enum Inst {
    Class(Vec<(char, char)>, bool),
    Split(usize, usize),
    Jmp(usize),
    Match,
}

enum Atom {
    Class(Vec<(char, char)>, bool),
    Group(Vec<Vec<Repeat>>),
}

struct Repeat {
    atom: Atom,
    min: u32,
    max: Option<u32>,
}

impl Pattern {
    fn compile(source: &str) -> Result<Pattern, String> {
        let chars: Vec<char> = source.chars().collect();
        let mut pos = 0;
        let alternatives = parse_alternatives(&chars, &mut pos)?;
        if pos != chars.len() {
            return Err(format!("motif {source} : « ) » en trop"));
        }
        let mut prog = Vec::new();
        emit_alternatives(&alternatives, &mut prog)?;
        prog.push(Inst::Match);
        Ok(Pattern {
            source: source.to_string(),
            prog,
        })
    }

    fn is_match(&self, text: &str) -> bool {
        let n = self.prog.len();
        let mut seen = vec![usize::MAX; n];
        let mut current = Vec::new();
        let mut step = 0;
        self.add(&mut current, 0, step, &mut seen);
        for c in text.chars() {
            step += 1;
            let mut next = Vec::new();
            for &pc in &current {
                if let Inst::Class(ranges, negated) = &self.prog[pc] {
                    if ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi) != *negated {
                        self.add(&mut next, pc + 1, step, &mut seen);
                    }
                }
            }
            if next.is_empty() {
                return false;
            }
            current = next;
        }
        current
            .iter()
            .any(|&pc| matches!(self.prog[pc], Inst::Match))
    }

    fn add(&self, list: &mut Vec<usize>, start: usize, step: usize, seen: &mut [usize]) {
        let mut todo = vec![start];
        while let Some(pc) = todo.pop() {
            if seen[pc] == step {
                continue;
            }
            seen[pc] = step;
            match self.prog[pc] {
                Inst::Jmp(to) => todo.push(to),
                Inst::Split(a, b) => {
                    todo.push(b);
                    todo.push(a);
                }
                _ => list.push(pc),
            }
        }
    }
}

fn parse_alternatives(chars: &[char], pos: &mut usize) -> Result<Vec<Vec<Repeat>>, String> {
    let mut alternatives = vec![Vec::new()];
    while let Some(&c) = chars.get(*pos) {
        let atom = match c {
            ')' => break,
            '|' => {
                *pos += 1;
                alternatives.push(Vec::new());
                continue;
            }
            '(' => {
                *pos += 1;
                let inner = parse_alternatives(chars, pos)?;
                if chars.get(*pos) != Some(&')') {
                    return Err("motif : « ( » non fermée".into());
                }
                *pos += 1;
                Atom::Group(inner)
            }
            '[' => {
                *pos += 1;
                parse_class(chars, pos)?
            }
            '.' => {
                *pos += 1;
                Atom::Class(vec![('\n', '\n'), ('\r', '\r')], true)
            }
            '\\' => {
                *pos += 1;
                let (ranges, negated) = parse_escape(chars, pos)?;
                Atom::Class(ranges, negated)
            }
            '?' | '*' | '+' | '{' | '}' | ']' => return Err(format!("motif : « {c} » inattendu")),
            c => {
                *pos += 1;
                Atom::Class(vec![(c, c)], false)
            }
        };
        let (min, max) = parse_quantifier(chars, pos)?;
        if let Some(last) = alternatives.last_mut() {
            last.push(Repeat { atom, min, max });
        }
    }
    Ok(alternatives)
}

fn parse_quantifier(chars: &[char], pos: &mut usize) -> Result<(u32, Option<u32>), String> {
    let q = match chars.get(*pos) {
        Some('?') => (0, Some(1)),
        Some('*') => (0, None),
        Some('+') => (1, None),
        Some('{') => {
            let end = chars[*pos..]
                .iter()
                .position(|&c| c == '}')
                .ok_or("motif : « { » non fermée")?;
            let body: String = chars[*pos + 1..*pos + end].iter().collect();
            *pos += end;
            let number = |s: &str| {
                s.parse::<u32>()
                    .map_err(|_| format!("motif : {{{body}}} illisible"))
            };
            match body.split_once(',') {
                None => (number(&body)?, Some(number(&body)?)),
                Some((lo, "")) => (number(lo)?, None),
                Some((lo, hi)) => (number(lo)?, Some(number(hi)?)),
            }
        }
        _ => return Ok((1, Some(1))),
    };
    *pos += 1;
    Ok(q)
}

fn parse_class(chars: &[char], pos: &mut usize) -> Result<Atom, String> {
    let negated = chars.get(*pos) == Some(&'^');
    if negated {
        *pos += 1;
    }
    let mut ranges = Vec::new();
    let mut first = true;
    loop {
        let c = *chars.get(*pos).ok_or("motif : « [ » non fermé")?;
        *pos += 1;
        if c == ']' && !first {
            break;
        }
        first = false;
        let lo = match c {
            '\\' => {
                let (class, negated_escape) = parse_escape(chars, pos)?;
                if negated_escape || class.len() != 1 || class[0].0 != class[0].1 {
                    if negated_escape {
                        return Err("motif : classe négative dans [ ] non prise en charge".into());
                    }
                    ranges.extend(class);
                    continue;
                }
                class[0].0
            }
            '[' => return Err("motif : soustraction de classes non prise en charge".into()),
            c => c,
        };
        if chars.get(*pos) == Some(&'-') && chars.get(*pos + 1).is_some_and(|&c| c != ']') {
            *pos += 1;
            let hi = match chars[*pos] {
                '\\' => {
                    *pos += 1;
                    let (class, _) = parse_escape(chars, pos)?;
                    class[0].0
                }
                '[' => return Err("motif : soustraction de classes non prise en charge".into()),
                c => {
                    *pos += 1;
                    c
                }
            };
            if hi < lo {
                return Err("motif : intervalle inversé".into());
            }
            ranges.push((lo, hi));
        } else {
            ranges.push((lo, lo));
        }
    }
    Ok(Atom::Class(ranges, negated))
}

fn parse_escape(chars: &[char], pos: &mut usize) -> Result<(Vec<(char, char)>, bool), String> {
    let c = *chars.get(*pos).ok_or("motif : « \\ » final")?;
    *pos += 1;
    let space = vec![(' ', ' '), ('\t', '\t'), ('\n', '\n'), ('\r', '\r')];
    Ok(match c {
        'n' => (vec![('\n', '\n')], false),
        'r' => (vec![('\r', '\r')], false),
        't' => (vec![('\t', '\t')], false),
        'd' => (vec![('0', '9')], false),
        'D' => (vec![('0', '9')], true),
        's' => (space, false),
        'S' => (space, true),
        '\\' | '|' | '.' | '?' | '*' | '+' | '(' | ')' | '{' | '}' | '-' | '[' | ']' | '^' => {
            (vec![(c, c)], false)
        }
        other => return Err(format!("motif : échappement \\{other} non pris en charge")),
    })
}

fn emit_alternatives(alternatives: &[Vec<Repeat>], prog: &mut Vec<Inst>) -> Result<(), String> {
    let mut jumps = Vec::new();
    for (i, sequence) in alternatives.iter().enumerate() {
        let split = (i + 1 < alternatives.len()).then(|| {
            prog.push(Inst::Split(0, 0));
            prog.len() - 1
        });
        for r in sequence {
            emit_repeat(r, prog)?;
        }
        if let Some(split) = split {
            prog.push(Inst::Jmp(0));
            jumps.push(prog.len() - 1);
            prog[split] = Inst::Split(split + 1, prog.len());
        }
    }
    let end = prog.len();
    for j in jumps {
        prog[j] = Inst::Jmp(end);
    }
    Ok(())
}

fn emit_repeat(r: &Repeat, prog: &mut Vec<Inst>) -> Result<(), String> {
    if prog.len() > 20_000 {
        return Err("motif trop grand".into());
    }
    for _ in 0..r.min {
        emit_atom(&r.atom, prog)?;
    }
    match r.max {
        Some(max) if max < r.min => return Err("motif : {n,m} avec m < n".into()),
        Some(max) => {
            let mut splits = Vec::new();
            for _ in r.min..max {
                prog.push(Inst::Split(0, 0));
                splits.push(prog.len() - 1);
                emit_atom(&r.atom, prog)?;
            }
            let end = prog.len();
            for s in splits {
                prog[s] = Inst::Split(s + 1, end);
            }
        }
        None => {
            let start = prog.len();
            prog.push(Inst::Split(0, 0));
            emit_atom(&r.atom, prog)?;
            prog.push(Inst::Jmp(start));
            prog[start] = Inst::Split(start + 1, prog.len());
        }
    }
    Ok(())
}

fn emit_atom(atom: &Atom, prog: &mut Vec<Inst>) -> Result<(), String> {
    match atom {
        Atom::Class(ranges, negated) => {
            prog.push(Inst::Class(ranges.clone(), *negated));
            Ok(())
        }
        Atom::Group(alternatives) => emit_alternatives(alternatives, prog),
    }
}

// ---------------------------------------------------------------------------------------------
// Reading the validated tree.

/// Where an extraction error is: the node and its path, e.g. Stmt[1]/Ntry[3]/Amt.
fn extract_error(tree: &Tree, src: &str, node: usize, path: &str, what: &str) -> StatementError {
    refuse(format!(
        "Relevé refusé, élément {path} (ligne {}) : {what}.",
        line_of(src.as_bytes(), tree.nodes[node].pos)
    ))
}

fn extract(tree: &Tree, src: &str) -> Result<Document, StatementError> {
    let root = tree.root;
    let text = |node: usize| tree.nodes[node].text.trim_matches(is_xml_space).to_string();
    // A blank value (valid for the schema: " " has length 1) is taken as absent.
    let opt_text =
        |parent: usize, path: &[&str]| tree.at(parent, path).map(text).filter(|t| !t.is_empty());
    // A value the treasury needs: blank is refused.
    let required = |parent: usize, path: &[&str], shown: &str| match tree.at(parent, path) {
        Some(node) if !text(node).is_empty() => Ok(text(node)),
        Some(node) => Err(extract_error(tree, src, node, shown, "valeur vide")),
        None => Err(extract_error(tree, src, parent, shown, "valeur absente")),
    };
    let missing = || refuse("Relevé incomplet : l'en-tête BkToCstmrStmt/GrpHdr est absent.");
    let report = tree.kid(root, "BkToCstmrStmt").ok_or_else(missing)?;
    let header = tree.kid(report, "GrpHdr").ok_or_else(missing)?;
    let message_id = required(header, &["MsgId"], "GrpHdr/MsgId")?;
    let created_at = opt_text(header, &["CreDtTm"]).ok_or_else(missing)?;

    // An amount element (with its Ccy) in cents; `positive` for entries and transactions.
    let amount = |node: usize,
                  path: &str,
                  positive: bool|
     -> Result<(i64, String), StatementError> {
        let currency = tree.attr(node, "Ccy").unwrap_or("").to_string();
        let raw = &tree.nodes[node].text;
        let fail = |what: String| extract_error(tree, src, node, path, &what);
        match cents_from_decimal(raw) {
            Ok(0) if positive => Err(fail("montant nul, alors qu'une opération a toujours un montant".into())),
            Ok(cents) => Ok((cents, currency)),
            Err(AmountError::NotDecimal) => Err(fail(format!("« {} » n'est pas un montant", shorten(raw)))),
            Err(AmountError::Negative) => Err(fail(format!("le montant « {} » est négatif", shorten(raw)))),
            Err(AmountError::TooPrecise) => Err(fail(format!(
                "le montant « {} » {currency} a plus de 2 décimales ; les montants sont lus au centime près",
                shorten(raw.trim_matches(is_xml_space))
            ))),
            Err(AmountError::TooLarge) => Err(fail(format!(
                "le montant « {} » est trop grand pour être traité",
                shorten(raw.trim_matches(is_xml_space))
            ))),
        }
    };
    // A DateAndDateTime2Choice: the date, from Dt or the date part of DtTm.
    let date = |choice: usize, path: &str| -> Result<String, StatementError> {
        let Some(&value) = tree.nodes[choice].children.first() else {
            return Err(extract_error(tree, src, choice, path, "date absente"));
        };
        let v = text(value);
        match v.get(..10) {
            Some(d) if d.len() == 10 && d.as_bytes()[4] == b'-' && split_date(d) == Some("") => {
                Ok(d.to_string())
            }
            _ => Err(extract_error(
                tree,
                src,
                value,
                &format!("{path}/{}", tree.nodes[value].name),
                &format!(
                    "la date « {} » n'est pas de la forme AAAA-MM-JJ (année à 4 chiffres)",
                    shorten(&v)
                ),
            )),
        }
    };

    let mut statements = Vec::new();
    for (si, stmt) in tree.kids(report, "Stmt").enumerate() {
        let sp = format!("Stmt[{}]", si + 1);
        let account = tree.kid(stmt, "Acct");
        let mut opening = None;
        let mut previous_closing = None;
        let mut closing = None;
        for (bi, bal) in tree.kids(stmt, "Bal").enumerate() {
            let bp = format!("{sp}/Bal[{}]", bi + 1);
            let code = opt_text(bal, &["Tp", "CdOrPrtry", "Cd"]).unwrap_or_default();
            let slot = match code.as_str() {
                "OPBD" if opening.is_none() => &mut opening,
                "PRCD" if previous_closing.is_none() => &mut previous_closing,
                "CLBD" if closing.is_none() => &mut closing,
                _ => continue,
            };
            let (Some(amt), Some(dt)) = (tree.kid(bal, "Amt"), tree.kid(bal, "Dt")) else {
                return Err(extract_error(
                    tree,
                    src,
                    bal,
                    &bp,
                    "solde sans montant ou sans date",
                ));
            };
            let (cents, currency) = amount(amt, &format!("{bp}/Amt"), false)?;
            let debit = opt_text(bal, &["CdtDbtInd"]).as_deref() == Some("DBIT");
            *slot = Some(Balance {
                cents: if debit { -cents } else { cents },
                date: date(dt, &format!("{bp}/Dt"))?,
                currency,
            });
        }
        let mut entries = Vec::new();
        for (ei, ntry) in tree.kids(stmt, "Ntry").enumerate() {
            let ep = format!("{sp}/Ntry[{}]", ei + 1);
            let Some(amt) = tree.kid(ntry, "Amt") else {
                return Err(extract_error(
                    tree,
                    src,
                    ntry,
                    &ep,
                    "opération sans montant",
                ));
            };
            let (cents, currency) = amount(amt, &format!("{ep}/Amt"), true)?;
            let credit = opt_text(ntry, &["CdtDbtInd"]).as_deref() == Some("CRDT");
            let status = match tree.at(ntry, &["Sts", "Cd"]) {
                Some(_) => required(ntry, &["Sts", "Cd"], &format!("{ep}/Sts/Cd"))?,
                None => required(ntry, &["Sts", "Prtry"], &format!("{ep}/Sts/Prtry"))?,
            };
            let booking_date = match tree.kid(ntry, "BookgDt") {
                Some(d) => Some(date(d, &format!("{ep}/BookgDt"))?),
                None => None,
            };
            let value_date = match tree.kid(ntry, "ValDt") {
                Some(d) => Some(date(d, &format!("{ep}/ValDt"))?),
                None => None,
            };
            let bank_code = tree.at(ntry, &["BkTxCd", "Domn"]).and_then(|domain| {
                Some((
                    opt_text(domain, &["Cd"])?,
                    opt_text(domain, &["Fmly", "Cd"])?,
                    opt_text(domain, &["Fmly", "SubFmlyCd"])?,
                ))
            });
            let mut transactions = Vec::new();
            for (di, details) in tree.kids(ntry, "NtryDtls").enumerate() {
                let dp = format!("{ep}/NtryDtls[{}]", di + 1);
                let batch = tree.kid(details, "Btch");
                let batch_text = |name: &str| batch.and_then(|b| opt_text(b, &[name]));
                let mut any = false;
                for (ti, tx) in tree.kids(details, "TxDtls").enumerate() {
                    any = true;
                    let tp = format!("{dp}/TxDtls[{}]", ti + 1);
                    let amount_node = tree
                        .kid(tx, "Amt")
                        .map(|a| (a, format!("{tp}/Amt")))
                        .or_else(|| {
                            tree.at(tx, &["AmtDtls", "TxAmt", "Amt"])
                                .map(|a| (a, format!("{tp}/AmtDtls/TxAmt/Amt")))
                        });
                    let tx_cents = match amount_node {
                        Some((a, p)) => Some(amount(a, &p, true)?.0),
                        None => None,
                    };
                    let tx_credit = match opt_text(tx, &["CdtDbtInd"]).as_deref() {
                        Some("CRDT") => true,
                        Some("DBIT") => false,
                        _ => credit,
                    };
                    let mut remittance = Vec::new();
                    if let Some(rmt) = tree.kid(tx, "RmtInf") {
                        remittance
                            .extend(tree.kids(rmt, "Ustrd").map(text).filter(|t| !t.is_empty()));
                        for strd in tree.kids(rmt, "Strd") {
                            if let Some(r) = opt_text(strd, &["CdtrRefInf", "Ref"]) {
                                remittance.push(r);
                            }
                        }
                    }
                    let rtr = tree.kid(tx, "RtrInf");
                    let return_info = rtr.map(|r| {
                        tree.kids(r, "AddtlInf")
                            .map(text)
                            .filter(|t| !t.is_empty())
                            .collect::<Vec<_>>()
                            .join(" ")
                    });
                    let party = if tx_credit { "Dbtr" } else { "Cdtr" };
                    let counterparty = opt_text(tx, &["RltdPties", party, "Pty", "Nm"])
                        .or_else(|| opt_text(tx, &["RltdPties", party, "Agt", "FinInstnId", "Nm"]));
                    transactions.push(Transaction {
                        cents: tx_cents,
                        message_id: opt_text(tx, &["Refs", "MsgId"])
                            .or_else(|| batch_text("MsgId")),
                        payment_info_id: opt_text(tx, &["Refs", "PmtInfId"])
                            .or_else(|| batch_text("PmtInfId")),
                        instruction_id: opt_text(tx, &["Refs", "InstrId"]),
                        end_to_end_id: opt_text(tx, &["Refs", "EndToEndId"])
                            .filter(|id| id != "NOTPROVIDED"),
                        remittance,
                        return_reason: rtr.and_then(|r| {
                            opt_text(r, &["Rsn", "Cd"]).or_else(|| opt_text(r, &["Rsn", "Prtry"]))
                        }),
                        return_info: return_info.filter(|s| !s.is_empty()),
                        counterparty,
                    });
                }
                if let (false, Some(b)) = (any, batch) {
                    let tx_cents = match tree.kid(b, "TtlAmt") {
                        Some(a) => Some(amount(a, &format!("{dp}/Btch/TtlAmt"), true)?.0),
                        None => None,
                    };
                    transactions.push(Transaction {
                        cents: tx_cents,
                        message_id: batch_text("MsgId"),
                        payment_info_id: batch_text("PmtInfId"),
                        instruction_id: None,
                        end_to_end_id: None,
                        remittance: Vec::new(),
                        return_reason: None,
                        return_info: None,
                        counterparty: None,
                    });
                }
            }
            entries.push(Entry {
                index: ei + 1,
                entry_ref: opt_text(ntry, &["NtryRef"]),
                account_servicer_ref: opt_text(ntry, &["AcctSvcrRef"]),
                cents,
                currency,
                credit,
                reversal: matches!(opt_text(ntry, &["RvslInd"]).as_deref(), Some("true" | "1")),
                status,
                booking_date,
                value_date,
                bank_code,
                transactions,
            });
        }
        statements.push(Statement {
            id: required(stmt, &["Id"], &format!("{sp}/Id"))?,
            iban: account.and_then(|a| opt_text(a, &["Id", "IBAN"])),
            currency: account.and_then(|a| opt_text(a, &["Ccy"])),
            opening: opening.or(previous_closing),
            closing,
            entries,
        });
    }
    Ok(Document {
        message_id,
        created_at,
        statements,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A day of the platform's account: a funding received, a SEPA batch sent, one of its
    /// transfers sent back, and a credit with a structured reference. Valid (xmllint).
    const SAMPLE: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08">
  <BkToCstmrStmt>
    <GrpHdr><MsgId>RELEVE-20261205</MsgId><CreDtTm>2026-12-05T22:05:00+01:00</CreDtTm></GrpHdr>
    <Stmt>
      <Id>STMT-20261205-1</Id>
      <CreDtTm>2026-12-05T22:05:00+01:00</CreDtTm>
      <Acct><Id><IBAN>FR7630006000011234567890189</IBAN></Id><Ccy>EUR</Ccy></Acct>
      <Bal><Tp><CdOrPrtry><Cd>OPBD</Cd></CdOrPrtry></Tp><Amt Ccy="EUR">123.4</Amt><CdtDbtInd>DBIT</CdtDbtInd><Dt><Dt>2026-12-05</Dt></Dt></Bal>
      <Bal><Tp><CdOrPrtry><Cd>CLBD</Cd></CdOrPrtry></Tp><Amt Ccy="EUR">14951.60</Amt><CdtDbtInd>CRDT</CdtDbtInd><Dt><DtTm>2026-12-05T23:59:59</DtTm></Dt></Bal>
      <Ntry>
        <NtryRef>1</NtryRef>
        <Amt Ccy="EUR">15000.00</Amt>
        <CdtDbtInd>CRDT</CdtDbtInd>
        <Sts><Cd>BOOK</Cd></Sts>
        <BookgDt><Dt>2026-12-05</Dt></BookgDt>
        <ValDt><Dt>2026-12-05</Dt></ValDt>
        <AcctSvcrRef>20261205-0001</AcctSvcrRef>
        <BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>RCDT</Cd><SubFmlyCd>ESCT</SubFmlyCd></Fmly></Domn></BkTxCd>
        <NtryDtls><TxDtls>
          <Refs><EndToEndId>CONV-2026-0042</EndToEndId></Refs>
          <Amt Ccy="EUR">15000.00</Amt>
          <CdtDbtInd>CRDT</CdtDbtInd>
          <RltdPties><Dbtr><Pty><Nm>REGION OCCITANIE</Nm></Pty></Dbtr></RltdPties>
          <RmtInf><Ustrd>CONV-2026-0042 Région &amp; GIP</Ustrd></RmtInf>
        </TxDtls></NtryDtls>
      </Ntry>
      <Ntry>
        <NtryRef>2</NtryRef>
        <Amt Ccy="EUR">75.00</Amt>
        <CdtDbtInd>DBIT</CdtDbtInd>
        <Sts><Cd>BOOK</Cd></Sts>
        <BookgDt><Dt>2026-12-05</Dt></BookgDt>
        <AcctSvcrRef>20261205-0002</AcctSvcrRef>
        <BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>ICDT</Cd><SubFmlyCd>ESCT</SubFmlyCd></Fmly></Domn></BkTxCd>
        <NtryDtls>
          <Btch><MsgId>PASSNUM-2026-11</MsgId><PmtInfId>PASSNUM-2026-11-1</PmtInfId><NbOfTxs>2</NbOfTxs></Btch>
          <TxDtls><Refs><EndToEndId>PN-S12-2611</EndToEndId></Refs><Amt Ccy="EUR">50</Amt><CdtDbtInd>DBIT</CdtDbtInd>
            <RltdPties><Cdtr><Pty><Nm>Médiathèque de Lodève</Nm></Pty></Cdtr></RltdPties></TxDtls>
          <TxDtls><Refs><MsgId>PASSNUM-2026-11</MsgId><EndToEndId>PN-S17-2611</EndToEndId></Refs><AmtDtls><TxAmt><Amt Ccy="EUR">25.00</Amt></TxAmt></AmtDtls></TxDtls>
        </NtryDtls>
      </Ntry>
      <Ntry>
        <Amt Ccy="EUR">25.00</Amt>
        <CdtDbtInd>CRDT</CdtDbtInd>
        <Sts><Cd>BOOK</Cd></Sts>
        <BookgDt><Dt>2026-12-05</Dt></BookgDt>
        <AcctSvcrRef>20261205-0003</AcctSvcrRef>
        <BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>ICDT</Cd><SubFmlyCd>RRTN</SubFmlyCd></Fmly></Domn></BkTxCd>
        <NtryDtls><TxDtls>
          <Refs><EndToEndId>PN-S17-2611</EndToEndId></Refs>
          <Amt Ccy="EUR">25.00</Amt>
          <CdtDbtInd>CRDT</CdtDbtInd>
          <RtrInf><Rsn><Cd>AC04</Cd></Rsn><AddtlInf>COMPTE</AddtlInf><AddtlInf>CLOTURE</AddtlInf></RtrInf>
        </TxDtls></NtryDtls>
      </Ntry>
      <Ntry>
        <Amt Ccy="EUR">0.1</Amt>
        <CdtDbtInd>CRDT</CdtDbtInd>
        <Sts><Cd>PDNG</Cd></Sts>
        <ValDt><DtTm>2026-12-06T08:00:00Z</DtTm></ValDt>
        <BkTxCd/>
        <NtryDtls><TxDtls>
          <Refs><EndToEndId>NOTPROVIDED</EndToEndId></Refs>
          <RmtInf><Ustrd>LIBRE</Ustrd><Strd><CdtrRefInf><Ref>RF18539007547034</Ref></CdtrRefInf></Strd></RmtInf>
        </TxDtls></NtryDtls>
      </Ntry>
    </Stmt>
  </BkToCstmrStmt>
</Document>
"#;

    fn tx() -> Transaction {
        Transaction {
            cents: None,
            message_id: None,
            payment_info_id: None,
            instruction_id: None,
            end_to_end_id: None,
            remittance: vec![],
            return_reason: None,
            return_info: None,
            counterparty: None,
        }
    }

    fn owned(s: &str) -> Option<String> {
        Some(s.to_string())
    }

    fn refused(xml: &str) -> String {
        match parse(xml.as_bytes()) {
            Ok(doc) => panic!("accepted: {doc:?}"),
            Err(e) => e.reason,
        }
    }

    /// SAMPLE with one replacement, which must apply.
    fn changed(from: &str, to: &str) -> String {
        assert!(SAMPLE.contains(from), "{from} not in the sample");
        SAMPLE.replacen(from, to, 1)
    }

    fn assert_mentions(reason: &str, parts: &[&str]) {
        for part in parts {
            assert!(reason.contains(part), "« {part} » missing from: {reason}");
        }
    }

    #[test]
    fn the_embedded_schema_is_fully_understood() {
        let schema = SCHEMA.as_ref().expect("schema loads");
        assert_eq!(schema.complex.len(), 172);
        assert_eq!(schema.simple.len(), 102);
    }

    #[test]
    fn reads_a_statement_made_by_hand() {
        let doc = parse(SAMPLE.as_bytes()).expect("valid sample");
        assert_eq!(doc.message_id, "RELEVE-20261205");
        assert_eq!(doc.created_at, "2026-12-05T22:05:00+01:00");
        let [stmt] = &doc.statements[..] else {
            panic!("one statement")
        };
        assert_eq!(stmt.id, "STMT-20261205-1");
        assert_eq!(stmt.iban.as_deref(), Some("FR7630006000011234567890189"));
        assert_eq!(stmt.currency.as_deref(), Some("EUR"));
        let balance = |cents, date: &str| Balance {
            cents,
            date: date.into(),
            currency: "EUR".into(),
        };
        assert_eq!(stmt.opening, Some(balance(-12_340, "2026-12-05")));
        assert_eq!(stmt.closing, Some(balance(1_495_160, "2026-12-05")));
        assert_eq!(stmt.entries.len(), 4);
        assert_eq!(
            stmt.entries[0],
            Entry {
                index: 1,
                entry_ref: owned("1"),
                account_servicer_ref: owned("20261205-0001"),
                cents: 1_500_000,
                currency: "EUR".into(),
                credit: true,
                reversal: false,
                status: "BOOK".into(),
                booking_date: owned("2026-12-05"),
                value_date: owned("2026-12-05"),
                bank_code: Some(("PMNT".into(), "RCDT".into(), "ESCT".into())),
                transactions: vec![Transaction {
                    cents: Some(1_500_000),
                    end_to_end_id: owned("CONV-2026-0042"),
                    remittance: vec!["CONV-2026-0042 Région & GIP".into()],
                    counterparty: owned("REGION OCCITANIE"),
                    ..tx()
                }],
            }
        );
        let batch = &stmt.entries[1];
        assert!(!batch.credit);
        assert_eq!(batch.cents, 7_500);
        assert_eq!(batch.value_date, None);
        assert_eq!(
            batch.transactions,
            vec![
                Transaction {
                    cents: Some(5_000),
                    message_id: owned("PASSNUM-2026-11"),
                    payment_info_id: owned("PASSNUM-2026-11-1"),
                    end_to_end_id: owned("PN-S12-2611"),
                    counterparty: owned("Médiathèque de Lodève"),
                    ..tx()
                },
                Transaction {
                    cents: Some(2_500),
                    message_id: owned("PASSNUM-2026-11"),
                    payment_info_id: owned("PASSNUM-2026-11-1"),
                    end_to_end_id: owned("PN-S17-2611"),
                    ..tx()
                },
            ]
        );
    }

    #[test]
    fn reads_the_reason_of_a_returned_transfer() {
        let doc = parse(SAMPLE.as_bytes()).unwrap();
        let entry = &doc.statements[0].entries[2];
        assert_eq!(entry.index, 3);
        assert!(entry.credit);
        assert_eq!(
            entry.bank_code,
            Some(("PMNT".into(), "ICDT".into(), "RRTN".into()))
        );
        assert_eq!(
            entry.transactions,
            vec![Transaction {
                cents: Some(2_500),
                end_to_end_id: owned("PN-S17-2611"),
                return_reason: owned("AC04"),
                return_info: owned("COMPTE CLOTURE"),
                ..tx()
            }]
        );
    }

    #[test]
    fn reads_a_structured_reference_and_drops_notprovided() {
        let doc = parse(SAMPLE.as_bytes()).unwrap();
        let entry = &doc.statements[0].entries[3];
        assert_eq!((entry.cents, entry.status.as_str()), (10, "PDNG"));
        assert_eq!(entry.booking_date, None);
        assert_eq!(entry.value_date, owned("2026-12-06"));
        assert_eq!(entry.bank_code, None);
        assert_eq!(
            entry.transactions,
            vec![Transaction {
                remittance: vec!["LIBRE".into(), "RF18539007547034".into()],
                ..tx()
            }]
        );
    }

    #[test]
    fn a_batch_without_details_is_one_transaction() {
        let xml = changed(
            "<NbOfTxs>2</NbOfTxs></Btch>",
            "<NbOfTxs>2</NbOfTxs><TtlAmt Ccy=\"EUR\">75</TtlAmt></Btch></NtryDtls><NtryDtls>",
        );
        let doc = parse(xml.as_bytes()).unwrap();
        let transactions = &doc.statements[0].entries[1].transactions;
        assert_eq!(transactions.len(), 3);
        assert_eq!(
            transactions[0],
            Transaction {
                cents: Some(7_500),
                message_id: owned("PASSNUM-2026-11"),
                payment_info_id: owned("PASSNUM-2026-11-1"),
                ..tx()
            }
        );
        // The details in the next NtryDtls do not inherit that batch's ids.
        assert_eq!(transactions[1].message_id, None);
    }

    #[test]
    fn the_previous_closing_balance_opens_when_there_is_no_opening_one() {
        let xml = changed("<Cd>OPBD</Cd>", "<Cd>PRCD</Cd>");
        let doc = parse(xml.as_bytes()).unwrap();
        assert_eq!(
            doc.statements[0].opening.as_ref().map(|b| b.cents),
            Some(-12_340)
        );
    }

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
    fn amounts_are_exact_cents() {
        assert_eq!(cents_from_decimal("0.1"), Ok(10));
        assert_eq!(cents_from_decimal("10"), Ok(1_000));
        assert_eq!(cents_from_decimal("1234.5"), Ok(123_450));
        assert_eq!(cents_from_decimal("0.10"), Ok(10));
        assert_eq!(cents_from_decimal("1.50000"), Ok(150));
        assert_eq!(cents_from_decimal(" +3 "), Ok(300));
        assert_eq!(cents_from_decimal(".5"), Ok(50));
        assert_eq!(cents_from_decimal("5."), Ok(500));
        assert_eq!(cents_from_decimal("0"), Ok(0));
        assert_eq!(cents_from_decimal("-0.00"), Ok(0));
        assert_eq!(cents_from_decimal("92233720368547758.07"), Ok(i64::MAX));
        assert_eq!(
            cents_from_decimal("92233720368547758.08"),
            Err(AmountError::TooLarge)
        );
        assert_eq!(cents_from_decimal("1.005"), Err(AmountError::TooPrecise));
        assert_eq!(cents_from_decimal("-5"), Err(AmountError::Negative));
        assert_eq!(cents_from_decimal("1,50"), Err(AmountError::NotDecimal));
        assert_eq!(cents_from_decimal("1e3"), Err(AmountError::NotDecimal));
        assert_eq!(cents_from_decimal("."), Err(AmountError::NotDecimal));
    }

    #[test]
    fn refuses_amounts_the_treasury_cannot_book() {
        let reason = refused(&changed(">15000.00</Amt>", ">1.005</Amt>"));
        assert_mentions(
            &reason,
            &["Stmt[1]/Ntry[1]/Amt", "ligne 13", "1.005", "2 décimales"],
        );
        let reason = refused(&changed(">15000.00</Amt>", ">-5</Amt>"));
        assert_mentions(&reason, &["Stmt[1]/Ntry[1]/Amt", "négatif"]);
        let reason = refused(&changed(">15000.00</Amt>", ">0.00</Amt>"));
        assert_mentions(&reason, &["Stmt[1]/Ntry[1]/Amt", "nul"]);
        let reason = refused(&changed(">50</Amt>", ">0</Amt>"));
        assert_mentions(
            &reason,
            &["Stmt[1]/Ntry[2]/NtryDtls[1]/TxDtls[1]/Amt", "nul"],
        );
        let reason = refused(&changed(">15000.00</Amt>", ">100000000000000000</Amt>"));
        assert_mentions(&reason, &["Stmt[1]/Ntry[1]/Amt", "trop grand"]);
        let reason = refused(&changed(">123.4</Amt>", ">123.456</Amt>"));
        assert_mentions(&reason, &["Stmt[1]/Bal[1]/Amt", "2 décimales"]);
        // A balance may be nil; an entry may not.
        assert!(parse(changed(">123.4</Amt>", ">0</Amt>").as_bytes()).is_ok());
    }

    #[test]
    fn refuses_what_the_schema_refuses_and_says_where() {
        let cases: &[(&str, &str, &[&str])] = &[
            (
                "<GrpHdr><MsgId>RELEVE-20261205</MsgId><CreDtTm>2026-12-05T22:05:00+01:00</CreDtTm></GrpHdr>",
                "",
                &["élément Stmt", "ligne 5", "<GrpHdr>"],
            ),
            (
                "<CdtDbtInd>CRDT</CdtDbtInd>\n        <Sts><Cd>BOOK</Cd></Sts>",
                "<Sts><Cd>BOOK</Cd></Sts>\n        <CdtDbtInd>CRDT</CdtDbtInd>",
                &["Stmt[1]/Ntry[1]/Sts", "ligne 14", "attendu : <CdtDbtInd>"],
            ),
            (">15000.00</Amt>", ">15O00.00</Amt>", &["Stmt[1]/Ntry[1]/Amt", "15O00.00", "nombre décimal"]),
            ("<CdtDbtInd>DBIT</CdtDbtInd>", "<CdtDbtInd>XXX</CdtDbtInd>", &["Stmt[1]/Bal[1]/CdtDbtInd", "CRDT, DBIT"]),
            (
                "<AcctSvcrRef>20261205-0001</AcctSvcrRef>",
                "<AcctSvcrRef>20261205-0001</AcctSvcrRef><Memo>x</Memo>",
                &["Stmt[1]/Ntry[1]/Memo", "<Memo>", "attendu : l'un de <Avlbty>, <BkTxCd>"],
            ),
            ("<Acct><Id>", "<Acct><Nm>X</Nm><Id>", &["Stmt[1]/Acct/Nm", "attendu : <Id>"]),
            ("</Acct>", "<Ccy>EUR</Ccy></Acct>", &["Stmt[1]/Acct/Ccy", "mal placé ou en trop"]),
            ("</Acct>", "<Solde/></Acct>", &["Stmt[1]/Acct/Solde", "n'existe pas dans <Acct>"]),
            ("<Amt Ccy=\"EUR\">15000.00</Amt>", "<Amt>15000.00</Amt>", &["Stmt[1]/Ntry[1]/Amt", "attribut obligatoire Ccy"]),
            ("Ccy=\"EUR\">15000.00", "Ccy=\"euro\">15000.00", &["Stmt[1]/Ntry[1]/Amt/@Ccy", "3 lettres majuscules"]),
            ("<Sts>", "<Sts statut=\"ok\">", &["Stmt[1]/Ntry[1]/Sts/@statut", "n'est pas permis"]),
            ("<Sts><Cd>BOOK", "<Sts>comptabilisé<Cd>BOOK", &["Stmt[1]/Ntry[1]/Sts", "que des sous-éléments"]),
            ("<Dt><Dt>2026-12-05</Dt></Dt>", "<Dt><Dt>2026-12-05</Dt><DtTm>2026-12-05T10:00:00</DtTm></Dt>", &["Stmt[1]/Bal[1]/Dt/DtTm", "un seul choix"]),
            ("<BookgDt><Dt>2026-12-05", "<BookgDt><Dt>2026-02-30", &["Stmt[1]/Ntry[1]/BookgDt/Dt", "2026-02-30", "date valide"]),
            ("<IBAN>FR76", "<IBAN>FR 76", &["Stmt[1]/Acct/Id/IBAN", "IBAN"]),
            ("<AcctSvcrRef>20261205-0001<", "<AcctSvcrRef>ABCDEFGHIJABCDEFGHIJABCDEFGHIJABCDEF<", &["trop long (36 caractères, au plus 35"]),
            ("<MsgId>RELEVE-20261205</MsgId>", "<MsgId></MsgId>", &["GrpHdr/MsgId", "vide"]),
            ("<SubFmlyCd>ESCT</SubFmlyCd>", "<SubFmlyCd>ESCT1</SubFmlyCd>", &["BkTxCd/Domn/Fmly/SubFmlyCd"]),
            ("<Cd>BOOK</Cd>", "<Cd>BOOK<X/></Cd>", &["Stmt[1]/Ntry[1]/Sts/Cd/X", "pas de sous-élément"]),
            ("<Ntry>", "<Ntry xsi:type=\"x\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\">", &["xsi:type"]),
            ("<Stmt>", "<Stmt xmlns=\"urn:other\">", &["<Stmt>", "urn:other", "attendu : <Stmt>"]),
        ];
        for (from, to, parts) in cases {
            let reason = refused(&changed(from, to));
            assert!(
                reason.starts_with("Relevé non conforme au schéma camt.053.001.08, élément "),
                "{reason}"
            );
            assert_mentions(&reason, parts);
            assert!(!reason.contains('\n'), "{reason}");
        }
        let no_bal = SAMPLE
            .lines()
            .filter(|l| !l.contains("<Bal>"))
            .collect::<Vec<_>>()
            .join("\n");
        assert_mentions(
            &refused(&no_bal),
            &["Stmt[1]/Ntry (ligne 9)", "<Intrst>, <Bal>"],
        );
    }

    #[test]
    fn names_the_message_when_it_is_not_a_camt_053_001_08() {
        let v02 = SAMPLE.replace("camt.053.001.08", "camt.053.001.02");
        assert_mentions(&refused(&v02), &["camt.053 en version 02", "version 08"]);
        let pain = r#"<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.001.001.09"><CstmrCdtTrfInitn/></Document>"#;
        assert_mentions(
            &refused(pain),
            &["ordre de virement (pain.001)", "camt.053.001.08"],
        );
        let camt054 = r#"<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.054.001.08"/>"#;
        assert_mentions(&refused(camt054), &["camt.054"]);
        assert_mentions(
            &refused("<Document><BkToCstmrStmt/></Document>"),
            &["pas d'espace de noms"],
        );
        assert_mentions(
            &refused(r#"<html xmlns="http://www.w3.org/1999/xhtml"/>"#),
            &["pas un relevé ISO 20022"],
        );
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

    #[test]
    fn dates_and_times_are_checked_like_xmllint() {
        for ok in [
            "2026-12-05",
            "2024-02-29",
            "2026-12-05Z",
            "2026-12-05+01:00",
            "10000-01-01",
            "-2026-01-01",
        ] {
            assert!(is_xsd_date(ok), "{ok}");
        }
        for bad in [
            "2026-02-30",
            "2100-02-29",
            "0000-01-01",
            "2026-1-05",
            " 2026-12-05",
            "2026-12-05+14:01",
            "02026-01-01",
        ] {
            assert!(!is_xsd_date(bad), "{bad}");
        }
        for ok in [
            "2026-12-05T24:00:00",
            "2026-12-05T10:00:00.123Z",
            "2026-12-05T10:00:00+14:00",
            "2026-12-05T10:00:00-00:00",
        ] {
            assert!(is_xsd_date_time(ok), "{ok}");
        }
        for bad in [
            "2026-12-05T23:59:60",
            "2026-12-05T24:00:01",
            "2026-12-05T10:00",
            "2026-12-05T10:00:00.Z",
            "2026-12-05 10:00:00",
        ] {
            assert!(!is_xsd_date_time(bad), "{bad}");
        }
        assert!(is_xsd_year_month("2026-12") && !is_xsd_year_month("2026-13"));
    }

    #[test]
    fn patterns_match_whole_values() {
        let p = |s: &str| Pattern::compile(s).unwrap();
        let iban = p("[A-Z]{2,2}[0-9]{2,2}[a-zA-Z0-9]{1,30}");
        assert!(iban.is_match("FR7630006000011234567890189"));
        assert!(
            !iban.is_match("FR76 3000")
                && !iban.is_match("FR76")
                && !iban.is_match(&"A".repeat(40))
        );
        let bic = p("[A-Z0-9]{4,4}[A-Z]{2,2}[A-Z0-9]{2,2}([A-Z0-9]{3,3}){0,1}");
        assert!(bic.is_match("AGRIFRPP") && bic.is_match("AGRIFRPPXXX"));
        assert!(!bic.is_match("AGRIFRPPXX") && !bic.is_match("agriFRPP"));
        let phone = p("\\+[0-9]{1,3}-[0-9()+\\-]{1,30}");
        assert!(phone.is_match("+33-1(23)45-67") && !phone.is_match("33-123"));
        let uuid = p("[a-f0-9]{8}-[a-f0-9]{4}-4[a-f0-9]{3}-[89ab][a-f0-9]{3}-[a-f0-9]{12}");
        assert!(uuid.is_match("123e4567-e89b-42d3-a456-426614174000"));
        assert!(!uuid.is_match("123e4567-e89b-12d3-a456-426614174000"));
        assert!(p("a(b|cd)*e").is_match("abcdbe") && !p("a(b|cd)*e").is_match("ace"));
        assert!(
            Pattern::compile("[a-z-[aeiou]]").is_err(),
            "class subtraction is not supported"
        );
        assert!(
            Pattern::compile("\\p{L}").is_err(),
            "unsupported escapes are refused at load"
        );
    }

    #[test]
    fn validate_alone_ignores_what_only_the_treasury_refuses() {
        let xml = changed(">15000.00</Amt>", ">1.005</Amt>");
        assert_eq!(validate(xml.as_bytes()), Ok(()));
        assert!(validate(changed(">15000.00</Amt>", ">x</Amt>").as_bytes()).is_err());
    }
}
