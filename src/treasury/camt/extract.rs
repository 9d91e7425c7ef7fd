//! From the validated tree to a [`Document`]: what the treasury reads, amounts as exact cents
//! above zero, dates with a 4-digit year, blank optional values as absent.

use super::tree::{is_xml_space, line_of, Tree};
use super::values::{cents_from_decimal, split_date, AmountError};
use super::{refuse, shorten, Balance, Document, Entry, Statement, StatementError, Transaction};

/// Where an extraction error is: the node and its path, e.g. Stmt[1]/Ntry[3]/Amt.
fn extract_error(tree: &Tree, src: &str, node: usize, path: &str, what: &str) -> StatementError {
    refuse(format!(
        "Relevé refusé, élément {path} (ligne {}) : {what}.",
        line_of(src.as_bytes(), tree.nodes[node].pos)
    ))
}

pub(super) fn extract(tree: &Tree, src: &str) -> Result<Document, StatementError> {
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
    use super::super::parse;
    use super::super::testing::*;
    use super::*;

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
}
