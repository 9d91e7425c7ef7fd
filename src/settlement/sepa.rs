//! SEPA credit-transfer files (ISO 20022 `pain.001.001.09`, EPC SCT rulebook flavour) that pay
//! mediation sites for the vouchers they redeemed.
//!
//! Everything is checked and sanitised before the first byte is written, so the XML writer only
//! ever sees values the EPC schema accepts.

use quick_xml::events::{BytesDecl, BytesText, Event};
use quick_xml::writer::Writer;
use std::io;

const NAMESPACE: &str = "urn:iso:std:iso:20022:tech:xsd:pain.001.001.09";
/// EPC restricts every `Nm` to 70 characters although the ISO type allows 140.
const NAME_MAX: usize = 70;
const REMITTANCE_MAX: usize = 140;
const ID_MAX: usize = 35;
/// `InstdAmt` bounds of the EPC schema: 0.01 to 999999999.99 EUR.
const AMOUNT_MAX_CENTS: i64 = 99_999_999_999;
/// `CtrlSum` is a decimal with at most 18 digits, 2 of them after the point.
const CTRL_SUM_LIMIT_CENTS: i64 = 1_000_000_000_000_000_000;
/// What EPC asks for when the debtor agent's BIC is unknown: `Othr/Id` can only hold this.
const BIC_NOT_PROVIDED: &str = "NOTPROVIDED";

/// A party named in the file.
pub struct Party {
    pub name: String,
    pub iban: String,        // already validated, no spaces, upper case
    pub bic: Option<String>, // 8 or 11 chars when present
}

pub struct Transfer {
    pub end_to_end_id: String, // unique per line, <= 35 chars, caller guarantees
    pub amount_cents: i64,     // > 0
    pub creditor: Party,
    pub remittance: String, // unstructured remittance info, truncate to 140 chars
}

/// One payment-information block: all transfers paid on behalf of one funder.
pub struct PaymentGroup {
    pub payment_info_id: String, // <= 35 chars
    pub ultimate_debtor: String, // the funder's name
    pub transfers: Vec<Transfer>,
}

pub struct PaymentFile {
    pub message_id: String,                // <= 35 chars
    pub created_at: jiff::Timestamp,       // GrpHdr/CreDtTm
    pub execution_date: jiff::civil::Date, // ReqdExctnDt/Dt
    pub initiating_party: String,          // GrpHdr/InitgPty/Nm
    pub debtor: Party,                     // the operator's account that pays
    pub groups: Vec<PaymentGroup>,
}

/// Renders the file as UTF-8 XML. Errors (as a String message) only if the input cannot make a valid file
/// (no transfers, non-positive amount, empty group).
pub fn render(file: &PaymentFile) -> Result<String, String> {
    let plan = Plan::new(file)?;
    let mut writer = Writer::new_with_indent(Vec::new(), b' ', 2);
    plan.write(&mut writer)
        .map_err(|e| format!("writing the SEPA file failed: {e}"))?;
    let mut bytes = writer.into_inner();
    bytes.push(b'\n');
    String::from_utf8(bytes).map_err(|e| format!("the SEPA file is not UTF-8: {e}"))
}

/// Formats integer cents as the decimal the file uses: 123456 -> "1234.56", 5 -> "0.05".
pub fn format_amount(cents: i64) -> String {
    // unsigned_abs keeps i64::MIN from overflowing; negatives never reach a file anyway.
    let sign = if cents < 0 { "-" } else { "" };
    let abs = cents.unsigned_abs();
    format!("{sign}{}.{:02}", abs / 100, abs % 100)
}

/// The file with every value checked, sanitised and summed, ready to be written.
struct Plan<'a> {
    message_id: &'a str,
    created_at: String,
    execution_date: String,
    initiating_party: String,
    debtor_name: String,
    debtor_iban: &'a str,
    debtor_bic: Option<&'a str>,
    nb_of_txs: usize,
    ctrl_sum: i64,
    blocks: Vec<Block<'a>>,
}

struct Block<'a> {
    payment_info_id: &'a str,
    ultimate_debtor: String,
    ctrl_sum: i64,
    lines: Vec<Line<'a>>,
}

struct Line<'a> {
    end_to_end_id: &'a str,
    amount_cents: i64,
    creditor_bic: Option<&'a str>,
    creditor_name: String,
    creditor_iban: &'a str,
    /// `None` when nothing survives sanitising: `RmtInf` is optional, an empty `Ustrd` is not.
    remittance: Option<String>,
}

impl<'a> Plan<'a> {
    fn new(file: &'a PaymentFile) -> Result<Self, String> {
        check_identifier("message id", &file.message_id)?;
        let debtor = &file.debtor;
        check_iban("debtor", &debtor.iban)?;
        if let Some(bic) = &debtor.bic {
            check_bic("debtor", bic)?;
        }
        if file.groups.is_empty() {
            return Err("the file has no payment group".into());
        }

        let mut blocks = Vec::with_capacity(file.groups.len());
        let mut nb_of_txs = 0;
        let mut ctrl_sum: i64 = 0;
        for group in &file.groups {
            let block = Block::new(group)?;
            nb_of_txs += block.lines.len();
            ctrl_sum = add_to_ctrl_sum(ctrl_sum, block.ctrl_sum)
                .ok_or("the file's control sum exceeds what a SEPA file can carry")?;
            blocks.push(block);
        }

        Ok(Plan {
            message_id: &file.message_id,
            // Whole seconds in UTC: banks disagree on how many fraction digits they accept.
            created_at: file.created_at.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
            execution_date: file.execution_date.to_string(),
            initiating_party: required_name("initiating party", &file.initiating_party)?,
            debtor_name: required_name("debtor", &debtor.name)?,
            debtor_iban: &debtor.iban,
            debtor_bic: debtor.bic.as_deref(),
            nb_of_txs,
            ctrl_sum,
            blocks,
        })
    }

    fn write(&self, w: &mut Writer<Vec<u8>>) -> io::Result<()> {
        w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
        w.create_element("Document")
            .with_attribute(("xmlns", NAMESPACE))
            .write_inner_content(|w| {
                w.create_element("CstmrCdtTrfInitn")
                    .write_inner_content(|w| {
                        self.write_group_header(w)?;
                        for block in &self.blocks {
                            self.write_payment_info(w, block)?;
                        }
                        Ok(())
                    })?;
                Ok(())
            })?;
        Ok(())
    }

    fn write_group_header(&self, w: &mut Writer<Vec<u8>>) -> io::Result<()> {
        w.create_element("GrpHdr").write_inner_content(|w| {
            text(w, "MsgId", self.message_id)?;
            text(w, "CreDtTm", &self.created_at)?;
            text(w, "NbOfTxs", &self.nb_of_txs.to_string())?;
            text(w, "CtrlSum", &format_amount(self.ctrl_sum))?;
            w.create_element("InitgPty")
                .write_inner_content(|w| text(w, "Nm", &self.initiating_party))?;
            Ok(())
        })?;
        Ok(())
    }

    fn write_payment_info(&self, w: &mut Writer<Vec<u8>>, block: &Block) -> io::Result<()> {
        w.create_element("PmtInf").write_inner_content(|w| {
            text(w, "PmtInfId", block.payment_info_id)?;
            text(w, "PmtMtd", "TRF")?;
            text(w, "BtchBookg", "true")?;
            text(w, "NbOfTxs", &block.lines.len().to_string())?;
            text(w, "CtrlSum", &format_amount(block.ctrl_sum))?;
            w.create_element("PmtTpInf").write_inner_content(|w| {
                w.create_element("SvcLvl")
                    .write_inner_content(|w| text(w, "Cd", "SEPA"))?;
                Ok(())
            })?;
            w.create_element("ReqdExctnDt")
                .write_inner_content(|w| text(w, "Dt", &self.execution_date))?;
            w.create_element("Dbtr")
                .write_inner_content(|w| text(w, "Nm", &self.debtor_name))?;
            account(w, "DbtrAcct", self.debtor_iban)?;
            w.create_element("DbtrAgt").write_inner_content(|w| {
                w.create_element("FinInstnId")
                    .write_inner_content(|w| match self.debtor_bic {
                        Some(bic) => text(w, "BICFI", bic),
                        // DbtrAgt is mandatory; without a BIC, EPC only accepts this marker.
                        None => {
                            w.create_element("Othr")
                                .write_inner_content(|w| text(w, "Id", BIC_NOT_PROVIDED))?;
                            Ok(())
                        }
                    })?;
                Ok(())
            })?;
            w.create_element("UltmtDbtr")
                .write_inner_content(|w| text(w, "Nm", &block.ultimate_debtor))?;
            text(w, "ChrgBr", "SLEV")?;
            for line in &block.lines {
                write_transaction(w, line)?;
            }
            Ok(())
        })?;
        Ok(())
    }
}

impl<'a> Block<'a> {
    fn new(group: &'a PaymentGroup) -> Result<Self, String> {
        let id = &group.payment_info_id;
        check_identifier("payment info id", id)?;
        if group.transfers.is_empty() {
            return Err(format!("payment group {id} has no transfer"));
        }
        let ultimate_debtor = required_name(
            &format!("payment group {id}: funder"),
            &group.ultimate_debtor,
        )?;
        let mut ctrl_sum: i64 = 0;
        let mut lines = Vec::with_capacity(group.transfers.len());
        for transfer in &group.transfers {
            let line = Line::new(transfer).map_err(|e| format!("payment group {id}: {e}"))?;
            ctrl_sum = add_to_ctrl_sum(ctrl_sum, line.amount_cents).ok_or_else(|| {
                format!("payment group {id}: control sum exceeds what a SEPA file can carry")
            })?;
            lines.push(line);
        }
        Ok(Block {
            payment_info_id: id,
            ultimate_debtor,
            ctrl_sum,
            lines,
        })
    }
}

impl<'a> Line<'a> {
    fn new(transfer: &'a Transfer) -> Result<Self, String> {
        let id = &transfer.end_to_end_id;
        check_identifier("end-to-end id", id)?;
        let amount = transfer.amount_cents;
        if amount <= 0 {
            return Err(format!(
                "transfer {id}: amount must be positive, got {amount} cents"
            ));
        }
        if amount > AMOUNT_MAX_CENTS {
            return Err(format!(
                "transfer {id}: amount {} EUR exceeds the SEPA maximum of {} EUR",
                format_amount(amount),
                format_amount(AMOUNT_MAX_CENTS)
            ));
        }
        let creditor = &transfer.creditor;
        let who = format!("transfer {id}: creditor");
        check_iban(&who, &creditor.iban)?;
        if let Some(bic) = &creditor.bic {
            check_bic(&who, bic)?;
        }
        let remittance = sepa_text(&transfer.remittance, REMITTANCE_MAX);
        Ok(Line {
            end_to_end_id: id,
            amount_cents: amount,
            creditor_bic: creditor.bic.as_deref(),
            creditor_name: required_name(&who, &creditor.name)?,
            creditor_iban: &creditor.iban,
            remittance: (!remittance.is_empty()).then_some(remittance),
        })
    }
}

fn write_transaction(w: &mut Writer<Vec<u8>>, line: &Line) -> io::Result<()> {
    w.create_element("CdtTrfTxInf").write_inner_content(|w| {
        w.create_element("PmtId")
            .write_inner_content(|w| text(w, "EndToEndId", line.end_to_end_id))?;
        w.create_element("Amt").write_inner_content(|w| {
            w.create_element("InstdAmt")
                .with_attribute(("Ccy", "EUR"))
                .write_text_content(BytesText::new(&format_amount(line.amount_cents)))?;
            Ok(())
        })?;
        // EPC: without a BIC the creditor agent block must be left out entirely.
        if let Some(bic) = line.creditor_bic {
            w.create_element("CdtrAgt").write_inner_content(|w| {
                w.create_element("FinInstnId")
                    .write_inner_content(|w| text(w, "BICFI", bic))?;
                Ok(())
            })?;
        }
        w.create_element("Cdtr")
            .write_inner_content(|w| text(w, "Nm", &line.creditor_name))?;
        account(w, "CdtrAcct", line.creditor_iban)?;
        if let Some(remittance) = &line.remittance {
            w.create_element("RmtInf")
                .write_inner_content(|w| text(w, "Ustrd", remittance))?;
        }
        Ok(())
    })?;
    Ok(())
}

fn account(w: &mut Writer<Vec<u8>>, tag: &str, iban: &str) -> io::Result<()> {
    w.create_element(tag).write_inner_content(|w| {
        w.create_element("Id")
            .write_inner_content(|w| text(w, "IBAN", iban))?;
        Ok(())
    })?;
    Ok(())
}

/// Writes `<tag>value</tag>`. Only `<`, `>` and `&` are escaped so that apostrophes in names stay
/// readable for the humans who open these files.
fn text(w: &mut Writer<Vec<u8>>, tag: &str, value: &str) -> io::Result<()> {
    w.create_element(tag)
        .write_text_content(BytesText::from_escaped(quick_xml::escape::partial_escape(
            value,
        )))?;
    Ok(())
}

fn add_to_ctrl_sum(sum: i64, cents: i64) -> Option<i64> {
    sum.checked_add(cents)
        .filter(|total| *total < CTRL_SUM_LIMIT_CENTS)
}

/// A name mapped to the SEPA character set; a name that maps to nothing cannot be paid.
fn required_name(what: &str, name: &str) -> Result<String, String> {
    let clean = sepa_text(name, NAME_MAX);
    if clean.is_empty() {
        return Err(format!(
            "{what} name {name:?} is empty once mapped to the SEPA character set"
        ));
    }
    Ok(clean)
}

/// Identifiers are rejected rather than rewritten: a changed EndToEndId would no longer match
/// the ledger line it reconciles against. The rules are the EPC implementation guidelines'.
fn check_identifier(what: &str, id: &str) -> Result<(), String> {
    let len = id.chars().count();
    if len == 0 || len > ID_MAX {
        return Err(format!("{what} {id:?} must have 1 to {ID_MAX} characters"));
    }
    if !id.chars().all(is_sepa_char) {
        return Err(format!(
            "{what} {id:?} has characters outside the SEPA character set"
        ));
    }
    if id.starts_with('/') || id.ends_with('/') || id.contains("//") {
        return Err(format!(
            "{what} {id:?} must not start or end with '/' nor contain '//'"
        ));
    }
    Ok(())
}

/// The schema's `IBAN2007Identifier` pattern; checksums are the caller's job.
fn check_iban(who: &str, iban: &str) -> Result<(), String> {
    let b = iban.as_bytes();
    let ok = (5..=34).contains(&b.len())
        && b[..2].iter().all(u8::is_ascii_uppercase)
        && b[2..4].iter().all(u8::is_ascii_digit)
        && b[4..].iter().all(u8::is_ascii_alphanumeric);
    if ok {
        Ok(())
    } else {
        Err(format!("{who} IBAN {iban:?} is not a compact IBAN"))
    }
}

/// The schema's `BICFIDec2014Identifier` pattern.
fn check_bic(who: &str, bic: &str) -> Result<(), String> {
    let b = bic.as_bytes();
    let upper_or_digit = |c: &u8| c.is_ascii_uppercase() || c.is_ascii_digit();
    let ok = (b.len() == 8 || b.len() == 11)
        && b[..4].iter().all(upper_or_digit)
        && b[4..6].iter().all(u8::is_ascii_uppercase)
        && b[6..].iter().all(upper_or_digit);
    if ok {
        Ok(())
    } else {
        Err(format!("{who} BIC {bic:?} is not an 8 or 11 character BIC"))
    }
}

/// The EPC "SEPA Latin" set every bank must accept; anything else may be rejected or mangled.
fn is_sepa_char(c: char) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(
            c,
            '/' | '-' | '?' | ':' | '(' | ')' | '.' | ',' | '\'' | '+' | ' '
        )
}

/// Maps free text onto the SEPA Latin set: French (and common European) letters lose their
/// accents, lookalike punctuation becomes its ASCII twin, anything else becomes a space. Runs of
/// spaces are collapsed, then the result is cut to `max` characters.
fn sepa_text(input: &str, max: usize) -> String {
    let mut mapped = String::with_capacity(input.len());
    for c in input.chars() {
        if is_sepa_char(c) {
            mapped.push(c);
        } else {
            mapped.push_str(transliterate(c));
        }
    }
    let collapsed = mapped.split_whitespace().collect::<Vec<_>>().join(" ");
    // Everything is ASCII by now, so a char count is a byte count.
    collapsed
        .chars()
        .take(max)
        .collect::<String>()
        .trim_end()
        .to_string()
}

fn transliterate(c: char) -> &'static str {
    match c {
        'à' | 'â' | 'ä' | 'á' | 'ã' | 'å' => "a",
        'À' | 'Â' | 'Ä' | 'Á' | 'Ã' | 'Å' => "A",
        'æ' => "ae",
        'Æ' => "AE",
        'ç' => "c",
        'Ç' => "C",
        'é' | 'è' | 'ê' | 'ë' => "e",
        'É' | 'È' | 'Ê' | 'Ë' => "E",
        'î' | 'ï' | 'í' | 'ì' => "i",
        'Î' | 'Ï' | 'Í' | 'Ì' => "I",
        'ñ' => "n",
        'Ñ' => "N",
        'ô' | 'ö' | 'ó' | 'ò' | 'õ' | 'ø' => "o",
        'Ô' | 'Ö' | 'Ó' | 'Ò' | 'Õ' | 'Ø' => "O",
        'œ' => "oe",
        'Œ' => "OE",
        'ù' | 'û' | 'ü' | 'ú' => "u",
        'Ù' | 'Û' | 'Ü' | 'Ú' => "U",
        'ÿ' | 'ý' => "y",
        'Ÿ' | 'Ý' => "Y",
        'ß' => "ss",
        // Typographic apostrophes are what French keyboards and word processors produce.
        '\u{2019}' | '\u{2018}' | '\u{02BC}' | '`' | '\u{00B4}' => "'",
        '\u{2010}'..='\u{2015}' | '\u{2212}' => "-",
        '&' => "+",
        // Combining accents (decomposed input) vanish, leaving the base letter.
        '\u{0300}'..='\u{036F}' => "",
        _ => " ",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;
    use std::process::Command;

    fn party(name: &str, iban: &str, bic: Option<&str>) -> Party {
        Party {
            name: name.into(),
            iban: iban.into(),
            bic: bic.map(Into::into),
        }
    }

    fn transfer(id: &str, cents: i64, creditor: Party, remittance: &str) -> Transfer {
        Transfer {
            end_to_end_id: id.into(),
            amount_cents: cents,
            creditor,
            remittance: remittance.into(),
        }
    }

    /// Two funders, three mediation sites, one of them without a known BIC.
    fn sample() -> PaymentFile {
        PaymentFile {
            message_id: "PASSNUM-2026-03-02-001".into(),
            created_at: "2026-03-02T11:00:00.123456Z".parse().unwrap(),
            execution_date: jiff::civil::date(2026, 3, 4),
            initiating_party: "Opérateur Pass numérique".into(),
            debtor: party(
                "Société d’Économie Numérique",
                "FR7630006000011234567890189",
                Some("AGRIFRPP"),
            ),
            groups: vec![
                PaymentGroup {
                    payment_info_id: "PASSNUM-2026-03-02-001-A".into(),
                    ultimate_debtor: "Département de l'Hérault".into(),
                    transfers: vec![
                        transfer(
                            "PN-0001",
                            12_345,
                            party(
                                "Médiathèque d'Émile Zola & Cie",
                                "FR1420041010050500013M02606",
                                Some("PSSTFRPPMON"),
                            ),
                            "Pass numérique – chèques remboursés février 2026 «lot 12»",
                        ),
                        transfer(
                            "PN-0002",
                            5,
                            party(
                                "Cœur de Ville Numérique",
                                "FR7612548029989876543210917",
                                None,
                            ),
                            "Régularisation",
                        ),
                    ],
                },
                PaymentGroup {
                    payment_info_id: "PASSNUM-2026-03-02-001-B".into(),
                    ultimate_debtor: "Région Île-de-France".into(),
                    transfers: vec![transfer(
                        "PN-0003",
                        1_000,
                        party(
                            "L’Atelier Numérique de Saint-Étienne",
                            "DE89370400440532013000",
                            Some("COBADEFFXXX"),
                        ),
                        "",
                    )],
                },
            ],
        }
    }

    fn xsd_path() -> PathBuf {
        PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/pain.001.001.09.xsd"
        ))
    }

    /// Runs xmllint on `xml`; a missing xmllint fails the test because CI installs it.
    fn xmllint(xml: &str, label: &str) -> (bool, String) {
        let xsd = xsd_path();
        assert!(xsd.is_file(), "schema not found at {}", xsd.display());
        let path =
            std::env::temp_dir().join(format!("passnum-sepa-{label}-{}.xml", std::process::id()));
        std::fs::write(&path, xml).unwrap();
        let output = Command::new("xmllint")
            .arg("--noout")
            .arg("--schema")
            .arg(&xsd)
            .arg(&path)
            .output();
        let _ = std::fs::remove_file(&path);
        let output = match output {
            Ok(output) => output,
            Err(e) => panic!("cannot run xmllint ({e}): install it (Debian: libxml2-utils)"),
        };
        let report = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        (output.status.success(), report)
    }

    fn assert_schema_valid(xml: &str, label: &str) {
        let (ok, report) = xmllint(xml, label);
        assert!(ok, "xmllint rejected the file:\n{report}\n{xml}");
    }

    #[test]
    fn formats_amounts() {
        assert_eq!(format_amount(5), "0.05");
        assert_eq!(format_amount(0), "0.00");
        assert_eq!(format_amount(99), "0.99");
        assert_eq!(format_amount(1_000), "10.00");
        assert_eq!(format_amount(123_456), "1234.56");
        assert_eq!(format_amount(99_999_999_999), "999999999.99");
        assert_eq!(format_amount(i64::MAX), "92233720368547758.07");
        assert_eq!(format_amount(-5), "-0.05");
        assert_eq!(format_amount(i64::MIN), "-92233720368547758.08");
    }

    #[test]
    fn control_sums_are_exact_to_the_cent() {
        let xml = render(&sample()).unwrap();
        // 123.45 + 0.05 + 10.00
        assert!(xml.contains("<NbOfTxs>3</NbOfTxs>\n      <CtrlSum>133.50</CtrlSum>"));
        assert!(xml.contains("<NbOfTxs>2</NbOfTxs>\n      <CtrlSum>123.50</CtrlSum>"));
        assert!(xml.contains("<NbOfTxs>1</NbOfTxs>\n      <CtrlSum>10.00</CtrlSum>"));

        // Ten thousand 0.10 EUR lines: a float accumulator would drift, integers must not.
        let mut file = sample();
        file.groups.truncate(1);
        file.groups[0].transfers = (0..10_000)
            .map(|i| {
                transfer(
                    &format!("PN-{i}"),
                    10,
                    party("Site", "FR7612548029989876543210917", None),
                    "",
                )
            })
            .collect();
        let xml = render(&file).unwrap();
        assert_eq!(xml.matches("<CtrlSum>1000.00</CtrlSum>").count(), 2);
        assert!(xml.contains("<NbOfTxs>10000</NbOfTxs>"));
    }

    #[test]
    fn transliterates_to_the_sepa_character_set() {
        assert_eq!(
            sepa_text("Cœur de l’Hérault – Ça va? «oui» & ÉTÉ", 140),
            "Coeur de l'Herault - Ca va? oui + ETE"
        );
        assert_eq!(sepa_text("àâäéèêëîïôöùûüÿçæœ", 140), "aaaeeeeiioouuuycaeoe");
        assert_eq!(sepa_text("ÀÂÉÈÊËÎÏÔÙÛÜŸÇÆŒ", 140), "AAEEEEIIOUUUYCAEOE");
        // Decomposed "é" (e + combining acute) keeps its base letter.
        assert_eq!(sepa_text("Re\u{301}gion", 140), "Region");
        assert_eq!(sepa_text("a_b\t\n  c\"d#e@f€", 140), "a b c d e f");
        assert_eq!(sepa_text("北京", 140), "");
        let allowed = "az AZ 09 / - ? : ( ) . , ' +";
        assert_eq!(sepa_text(allowed, 140), allowed);
    }

    #[test]
    fn truncates_after_transliterating() {
        let long = "é".repeat(200);
        assert_eq!(sepa_text(&long, NAME_MAX), "e".repeat(70));
        // No trailing space left where the cut lands on a word boundary.
        assert_eq!(sepa_text("abc def", 4), "abc");

        let mut file = sample();
        file.groups[0].transfers[0].creditor.name = "Œ".repeat(50);
        file.groups[0].transfers[0].remittance = "x".repeat(300);
        let xml = render(&file).unwrap();
        assert!(xml.contains(&format!("<Nm>{}</Nm>", "OE".repeat(35))));
        assert!(xml.contains(&format!("<Ustrd>{}</Ustrd>", "x".repeat(140))));
    }

    #[test]
    fn renders_a_schema_valid_file() {
        let xml = render(&sample()).unwrap();
        assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"));
        assert!(xml.contains("<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:pain.001.001.09\">"));
        assert!(xml.contains("<CreDtTm>2026-03-02T11:00:00Z</CreDtTm>"));
        assert!(xml.contains("<Dt>2026-03-04</Dt>"));
        assert!(xml.contains("<InstdAmt Ccy=\"EUR\">0.05</InstdAmt>"));
        assert!(xml.contains("<Nm>Mediatheque d'Emile Zola + Cie</Nm>"));
        assert!(xml.contains("<Nm>Departement de l'Herault</Nm>"));
        assert!(
            xml.contains("<Ustrd>Pass numerique - cheques rembourses fevrier 2026 lot 12</Ustrd>")
        );
        // Only two of the three creditors have an agent; the empty remittance is left out.
        assert_eq!(xml.matches("<CdtrAgt>").count(), 2);
        assert_eq!(xml.matches("<RmtInf>").count(), 2);
        assert!(xml.contains("<BICFI>AGRIFRPP</BICFI>"));
        assert!(!xml.contains(BIC_NOT_PROVIDED));
        assert_schema_valid(&xml, "with-bic");
    }

    #[test]
    fn debtor_without_bic_uses_not_provided() {
        let mut file = sample();
        file.debtor.bic = None;
        let xml = render(&file).unwrap();
        assert_eq!(
            xml.matches("<Othr>\n            <Id>NOTPROVIDED</Id>")
                .count(),
            2
        );
        assert_schema_valid(&xml, "without-bic");
    }

    #[test]
    fn the_schema_check_catches_broken_files() {
        // Guards the validation tests against an xmllint call that always succeeds.
        let xml = render(&sample())
            .unwrap()
            .replace("<PmtMtd>TRF</PmtMtd>", "<PmtMtd>CHK</PmtMtd>");
        let (ok, _) = xmllint(&xml, "broken");
        assert!(!ok);
    }

    #[test]
    fn rejects_files_that_cannot_be_valid() {
        let failing = |edit: &dyn Fn(&mut PaymentFile), expected: &str| {
            let mut file = sample();
            edit(&mut file);
            let err = render(&file).unwrap_err();
            assert!(err.contains(expected), "{err:?} lacks {expected:?}");
        };
        failing(&|f| f.groups.clear(), "no payment group");
        failing(&|f| f.groups[1].transfers.clear(), "has no transfer");
        failing(
            &|f| f.groups[0].transfers[1].amount_cents = 0,
            "must be positive",
        );
        failing(
            &|f| f.groups[0].transfers[1].amount_cents = -5,
            "must be positive",
        );
        failing(
            &|f| f.groups[0].transfers[1].amount_cents = AMOUNT_MAX_CENTS + 1,
            "exceeds the SEPA maximum",
        );
        failing(&|f| f.message_id = "M".repeat(36), "1 to 35 characters");
        failing(&|f| f.message_id = String::new(), "1 to 35 characters");
        failing(
            &|f| f.groups[0].transfers[0].end_to_end_id = "PN_0001".into(),
            "outside the SEPA character set",
        );
        failing(
            &|f| f.groups[0].payment_info_id = "A//B".into(),
            "must not start or end with '/'",
        );
        failing(&|f| f.debtor.name = "€€€".into(), "debtor name");
        failing(
            &|f| f.groups[0].transfers[0].creditor.name = "   ".into(),
            "creditor name",
        );
        failing(
            &|f| f.groups[0].ultimate_debtor = "北京".into(),
            "funder name",
        );
        failing(&|f| f.debtor.bic = Some("AGRIFR".into()), "BIC");
        failing(
            &|f| f.groups[0].transfers[0].creditor.iban = "FR76 3000".into(),
            "IBAN",
        );
    }

    #[test]
    fn control_sums_stay_within_eighteen_digits() {
        // CtrlSum allows 18 digits, 2 after the point: 9999999999999999.99 EUR at most.
        assert_eq!(
            add_to_ctrl_sum(0, 999_999_999_999_999_999),
            Some(999_999_999_999_999_999)
        );
        assert_eq!(add_to_ctrl_sum(999_999_999_999_999_999, 1), None);
        assert_eq!(add_to_ctrl_sum(i64::MAX, 1), None);
    }
}
