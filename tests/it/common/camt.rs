//! Writes bank statements (ISO 20022 camt.053.001.08) as a French bank delivers them, for the
//! tests that upload one: the statement of the day with its received credits, its sent SEPA
//! batches and the transfers the bank sent back. The output validates against
//! schemas/camt.053.001.08.xsd as long as the inputs do (positive entry amounts, identifiers of
//! at most 35 characters); a test that wants a broken file breaks those on purpose.

#![allow(dead_code)]

use std::fmt::Write as _;

/// One end-of-day statement of one account.
#[derive(Debug, Clone, PartialEq)]
pub struct StatementXml {
    /// GrpHdr/MsgId; also the statement's Stmt/Id.
    pub message_id: String,
    pub account_iban: String,
    /// Signed: a negative balance is written as its absolute value with CdtDbtInd DBIT.
    pub opening_cents: i64,
    pub closing_cents: i64,
    /// YYYY-MM-DD: the statement's day, the balances' and every entry's booking and value date.
    pub date: String,
    pub entries: Vec<EntryXml>,
}

/// One booked entry (Ntry) of the statement.
#[derive(Debug, Clone, PartialEq)]
pub enum EntryXml {
    /// A SEPA credit transfer received (PMNT/RCDT/ESCT).
    Credit {
        cents: i64,
        /// Written in RmtInf/Ustrd, and in Refs/EndToEndId when it fits (35 characters);
        /// otherwise EndToEndId is NOTPROVIDED, as banks write it.
        reference: String,
        debtor: String,
        acct_svcr_ref: String,
    },
    /// A SEPA credit transfer batch sent (PMNT/ICDT/ESCT), booked as one debit.
    Debit {
        cents: i64,
        /// The SEPA file's GrpHdr/MsgId.
        message_id: String,
        payment_info_id: Option<String>,
        /// One TxDtls per transfer of the batch: its EndToEndId and amount.
        end_to_end_ids: Vec<(String, i64)>,
        acct_svcr_ref: String,
    },
    /// A transfer the creditor's bank sent back (PMNT/ICDT/RRTN), booked as a credit.
    Return {
        cents: i64,
        /// The original transfer's EndToEndId.
        end_to_end_id: String,
        /// ISO 20022 return reason code, e.g. AC04.
        reason: String,
        acct_svcr_ref: String,
    },
}

pub const NAMESPACE: &str = "urn:iso:std:iso:20022:tech:xsd:camt.053.001.08";

impl StatementXml {
    pub fn to_xml(&self) -> String {
        let d = &self.date;
        let mut x = String::with_capacity(1024 + 1024 * self.entries.len());
        x.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        let _ = writeln!(x, "<Document xmlns=\"{NAMESPACE}\">");
        x.push_str("  <BkToCstmrStmt>\n");
        x.push_str("    <GrpHdr>\n");
        let _ = writeln!(x, "      <MsgId>{}</MsgId>", esc(&self.message_id));
        let _ = writeln!(x, "      <CreDtTm>{d}T22:05:00+01:00</CreDtTm>");
        x.push_str("      <MsgPgntn><PgNb>1</PgNb><LastPgInd>true</LastPgInd></MsgPgntn>\n");
        x.push_str("    </GrpHdr>\n");
        x.push_str("    <Stmt>\n");
        let _ = writeln!(x, "      <Id>{}</Id>", esc(&self.message_id));
        x.push_str("      <ElctrncSeqNb>1</ElctrncSeqNb>\n");
        let _ = writeln!(x, "      <CreDtTm>{d}T22:05:00+01:00</CreDtTm>");
        let _ = writeln!(
            x,
            "      <FrToDt><FrDtTm>{d}T00:00:00+01:00</FrDtTm><ToDtTm>{d}T23:59:59+01:00</ToDtTm></FrToDt>"
        );
        let _ = writeln!(
            x,
            "      <Acct><Id><IBAN>{}</IBAN></Id><Ccy>EUR</Ccy></Acct>",
            esc(&self.account_iban)
        );
        balance(&mut x, "OPBD", self.opening_cents, d);
        balance(&mut x, "CLBD", self.closing_cents, d);
        for (i, entry) in self.entries.iter().enumerate() {
            entry.write(&mut x, d, i + 1);
        }
        x.push_str("    </Stmt>\n");
        x.push_str("  </BkToCstmrStmt>\n");
        x.push_str("</Document>\n");
        x
    }
}

impl EntryXml {
    fn write(&self, x: &mut String, date: &str, index: usize) {
        let (cents, credit, codes, svcr_ref) = match self {
            EntryXml::Credit {
                cents,
                acct_svcr_ref,
                ..
            } => (*cents, true, ("RCDT", "ESCT"), acct_svcr_ref),
            EntryXml::Debit {
                cents,
                acct_svcr_ref,
                ..
            } => (*cents, false, ("ICDT", "ESCT"), acct_svcr_ref),
            EntryXml::Return {
                cents,
                acct_svcr_ref,
                ..
            } => (*cents, true, ("ICDT", "RRTN"), acct_svcr_ref),
        };
        let ind = if credit { "CRDT" } else { "DBIT" };
        x.push_str("      <Ntry>\n");
        let _ = writeln!(x, "        <NtryRef>{index}</NtryRef>");
        let _ = writeln!(x, "        <Amt Ccy=\"EUR\">{}</Amt>", amount(cents));
        let _ = writeln!(x, "        <CdtDbtInd>{ind}</CdtDbtInd>");
        x.push_str("        <Sts><Cd>BOOK</Cd></Sts>\n");
        let _ = writeln!(x, "        <BookgDt><Dt>{date}</Dt></BookgDt>");
        let _ = writeln!(x, "        <ValDt><Dt>{date}</Dt></ValDt>");
        let _ = writeln!(x, "        <AcctSvcrRef>{}</AcctSvcrRef>", esc(svcr_ref));
        let _ = writeln!(
            x,
            "        <BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>{}</Cd><SubFmlyCd>{}</SubFmlyCd></Fmly></Domn></BkTxCd>",
            codes.0, codes.1
        );
        x.push_str("        <NtryDtls>\n");
        match self {
            EntryXml::Credit {
                cents,
                reference,
                debtor,
                ..
            } => {
                let e2e = if (1..=35).contains(&reference.chars().count()) {
                    reference.as_str()
                } else {
                    "NOTPROVIDED"
                };
                x.push_str("          <TxDtls>\n");
                let _ = writeln!(
                    x,
                    "            <Refs><EndToEndId>{}</EndToEndId></Refs>",
                    esc(e2e)
                );
                let _ = writeln!(x, "            <Amt Ccy=\"EUR\">{}</Amt>", amount(*cents));
                x.push_str("            <CdtDbtInd>CRDT</CdtDbtInd>\n");
                let _ = writeln!(
                    x,
                    "            <RltdPties><Dbtr><Pty><Nm>{}</Nm></Pty></Dbtr></RltdPties>",
                    esc(debtor)
                );
                let _ = writeln!(
                    x,
                    "            <RmtInf><Ustrd>{}</Ustrd></RmtInf>",
                    esc(reference)
                );
                x.push_str("          </TxDtls>\n");
            }
            EntryXml::Debit {
                cents,
                message_id,
                payment_info_id,
                end_to_end_ids,
                ..
            } => {
                x.push_str("          <Btch>\n");
                let _ = writeln!(x, "            <MsgId>{}</MsgId>", esc(message_id));
                if let Some(id) = payment_info_id {
                    let _ = writeln!(x, "            <PmtInfId>{}</PmtInfId>", esc(id));
                }
                let _ = writeln!(x, "            <NbOfTxs>{}</NbOfTxs>", end_to_end_ids.len());
                let _ = writeln!(
                    x,
                    "            <TtlAmt Ccy=\"EUR\">{}</TtlAmt>",
                    amount(*cents)
                );
                x.push_str("            <CdtDbtInd>DBIT</CdtDbtInd>\n");
                x.push_str("          </Btch>\n");
                for (e2e, tx_cents) in end_to_end_ids {
                    x.push_str("          <TxDtls>\n");
                    x.push_str("            <Refs>");
                    let _ = write!(x, "<MsgId>{}</MsgId>", esc(message_id));
                    if let Some(id) = payment_info_id {
                        let _ = write!(x, "<PmtInfId>{}</PmtInfId>", esc(id));
                    }
                    let _ = writeln!(x, "<EndToEndId>{}</EndToEndId></Refs>", esc(e2e));
                    let _ = writeln!(
                        x,
                        "            <Amt Ccy=\"EUR\">{}</Amt>",
                        amount(*tx_cents)
                    );
                    x.push_str("            <CdtDbtInd>DBIT</CdtDbtInd>\n");
                    x.push_str("          </TxDtls>\n");
                }
            }
            EntryXml::Return {
                cents,
                end_to_end_id,
                reason,
                ..
            } => {
                x.push_str("          <TxDtls>\n");
                let _ = writeln!(
                    x,
                    "            <Refs><EndToEndId>{}</EndToEndId></Refs>",
                    esc(end_to_end_id)
                );
                let _ = writeln!(x, "            <Amt Ccy=\"EUR\">{}</Amt>", amount(*cents));
                x.push_str("            <CdtDbtInd>CRDT</CdtDbtInd>\n");
                x.push_str("            <RtrInf>\n");
                x.push_str(
                    "              <OrgnlBkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>ICDT</Cd><SubFmlyCd>ESCT</SubFmlyCd></Fmly></Domn></OrgnlBkTxCd>\n",
                );
                let _ = writeln!(x, "              <Rsn><Cd>{}</Cd></Rsn>", esc(reason));
                if let Some(label) = reason_label(reason) {
                    let _ = writeln!(x, "              <AddtlInf>{label}</AddtlInf>");
                }
                x.push_str("            </RtrInf>\n");
                x.push_str("          </TxDtls>\n");
            }
        }
        x.push_str("        </NtryDtls>\n");
        x.push_str("      </Ntry>\n");
    }
}

/// A balance of the statement's day; the schema wants an unsigned amount and the sign apart.
fn balance(x: &mut String, code: &str, cents: i64, date: &str) {
    let ind = if cents < 0 { "DBIT" } else { "CRDT" };
    let _ = writeln!(
        x,
        "      <Bal><Tp><CdOrPrtry><Cd>{code}</Cd></CdOrPrtry></Tp><Amt Ccy=\"EUR\">{}</Amt><CdtDbtInd>{ind}</CdtDbtInd><Dt><Dt>{date}</Dt></Dt></Bal>",
        amount(cents.unsigned_abs() as i64)
    );
}

/// Cents as the decimal the schema wants ("1234.50"); a negative stays negative, so that a
/// test can write the invalid file it asks for.
fn amount(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let abs = cents.unsigned_abs();
    format!("{sign}{}.{:02}", abs / 100, abs % 100)
}

/// What a bank writes in RtrInf/AddtlInf for the usual return codes.
fn reason_label(code: &str) -> Option<&'static str> {
    Some(match code {
        "AC01" => "NUMERO DE COMPTE INCORRECT",
        "AC04" => "COMPTE CLOTURE",
        "AC06" => "COMPTE BLOQUE",
        "AM05" => "OPERATION EN DOUBLE",
        "MD07" => "TITULAIRE DECEDE",
        "MS03" => "MOTIF NON COMMUNIQUE",
        _ => return None,
    })
}

fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}
