//! Reads the bank's end-of-day account statement, ISO 20022 camt.053.001.08
//! (BankToCustomerStatementV08), into entries the treasury can match against fundings and
//! settlements.
//!
//! A file is refused, with a reason in French for the accountant, unless it is valid against
//! schemas/camt.053.001.08.xsd. That schema is embedded and interpreted here rather than by an
//! XSD crate: the one pure-Rust validator on crates.io ignored namespaces (it let a camt.053.001.02
//! file through) and missed several other violations that xmllint reports. The schema uses only
//! a small part of XSD, all of which is implemented here (its pattern facets run by the regex
//! crate), and loading it fails on anything else (tested), so a change of schema cannot
//! silently weaken the check. What is checked:
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
//!
//! The module stands alone (no `crate::` paths): the fuzz target compiles it by itself. Its
//! parts, in the order a file goes through them: `tree` (the XML read into a tree), `schema`
//! (the XSD loaded into a model), `validate` (the tree checked against it, with the path of
//! each violation), `values` (simple values: decimals, dates, facets) and `extract` (the
//! validated tree read into a [`Document`]).

mod extract;
mod schema;
mod tree;
mod validate;
mod values;

use schema::SCHEMA;
use std::fmt;
use tree::Tree;

/// The namespace of camt.053.001.08, the only version accepted.
pub const NAMESPACE: &str = "urn:iso:std:iso:20022:tech:xsd:camt.053.001.08";

/// The schema the file must be valid against; the same file xmllint uses in the tests.
const SCHEMA_XSD: &str = include_str!("../../../schemas/camt.053.001.08.xsd");

/// Deeper than any path of the schema (about 20 levels) with room for supplementary data, and
/// low enough that the recursive checks cannot exhaust the stack.
pub const MAX_DEPTH: usize = 64;

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
    extract::extract(&tree, src)
}

/// Checks a file against the schema only (what `xmllint --schema` decides), without reading
/// it; `parse` does this first.
pub fn validate(bytes: &[u8]) -> Result<(), StatementError> {
    validated(bytes).map(|_| ())
}

fn validated(bytes: &[u8]) -> Result<(Tree, &str), StatementError> {
    let src = tree::decode(bytes)?;
    let tree = tree::read_tree(src)?;
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

/// A value from the file as quoted in a message: at most 40 characters.
fn shorten(text: &str) -> String {
    const MAX: usize = 40;
    if text.chars().count() <= MAX {
        text.to_string()
    } else {
        format!("{}…", text.chars().take(MAX).collect::<String>())
    }
}

#[cfg(test)]
mod testing;

#[cfg(test)]
mod tests {
    use super::testing::*;
    use super::*;

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
    fn validate_alone_ignores_what_only_the_treasury_refuses() {
        let xml = changed(">15000.00</Amt>", ">1.005</Amt>");
        assert_eq!(validate(xml.as_bytes()), Ok(()));
        assert!(validate(changed(">15000.00</Amt>", ">x</Amt>").as_bytes()).is_err());
    }
}
