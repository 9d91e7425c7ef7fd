//! The demo's month of money: sites with approved bank details and one change waiting for the
//! operator's check, last month's redemptions in a draft batch to approve, and the payer
//! account's statement of yesterday to import (the funders' transfers, a bank fee).

use super::Member;
use crate::db::Tx;
use crate::error::Result;
use crate::money::Cents;
use crate::programs::Program;
use crate::settlement::{BatchView, NewBatch};
use crate::sites::bank::{self, Document, NewBankAccount};
use jiff::{SignedDuration, Timestamp};

/// Bank details for every site (entered by the operator, so approved), and a change asked
/// for by the third site, with its RIB, for the operator to check.
pub(super) async fn bank_details(
    tx: &mut Tx<'_>,
    operator: &Member,
    sites: &[Member],
    letterhead: &crate::mail::Letterhead,
    now: Timestamp,
) -> Result<()> {
    // Valid French IBANs (mod 97), made up for the demo.
    const IBANS: [&str; 5] = [
        "FR7630066100210370201259416",
        "FR7610107001010893893015071",
        "FR7617515900000348039402858",
        "FR7614505000010187202475238",
        "FR7630003036200244695192031",
    ];
    for (site, iban) in sites.iter().zip(IBANS) {
        let new = NewBankAccount {
            iban: iban.into(),
            bic: None,
            holder: site.org.name.clone(),
        };
        bank::set_bank_account(tx, &operator.org, &site.org.id, new, None, letterhead, now).await?;
    }
    let asking = &sites[2];
    let new_iban = "FR7612548029980759589528775";
    let new = NewBankAccount {
        iban: new_iban.into(),
        bic: Some("AXABFRPP".into()),
        holder: asking.org.name.clone(),
    };
    let document = Document {
        filename: "RIB-nouvelle-banque.pdf".into(),
        bytes: rib_pdf(&asking.org.name, new_iban),
    };
    bank::set_bank_account(
        tx,
        &asking.org,
        &asking.org.id,
        new,
        Some(document),
        letterhead,
        now,
    )
    .await?;
    Ok(())
}

/// A one-page RIB as a bank gives it.
fn rib_pdf(holder: &str, iban: &str) -> Vec<u8> {
    let mut doc = crate::pdf::Doc::new("Relevé d'identité bancaire");
    doc.heading("Relevé d'identité bancaire");
    doc.paragraph("Banque de démonstration — document fictif, pour la démo de passnum.");
    let grouped: Vec<String> = iban
        .as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect();
    doc.key_values(&[
        ("Titulaire du compte", holder),
        ("IBAN", &grouped.join(" ")),
        ("BIC", "AXABFRPP"),
    ]);
    doc.finish()
}

/// Last month, some cheques were used.
pub(super) async fn last_month(
    tx: &mut Tx<'_>,
    keyring: &crate::vouchers::codes::Keyring,
    programmes: &[Program],
    distributor: &Member,
    sites: &[Member],
    now: Timestamp,
) -> Result<()> {
    let days_ago = |days: i64| now.checked_sub(SignedDuration::from_hours(24 * days));
    let issued_at = days_ago(40).map_err(anyhow::Error::from)?;
    let used_at = days_ago(35).map_err(anyhow::Error::from)?;
    for (site, reference, used) in [
        (&sites[0], "FT-2026-0417", 4),
        (&sites[1], "FT-2026-0418", 3),
    ] {
        let carnet = super::issue(
            tx,
            keyring,
            programmes,
            &distributor.org,
            0,
            5,
            true,
            reference,
            issued_at,
        )
        .await?;
        super::redeem(tx, keyring, used_at, &site.org, &carnet, used).await?;
    }
    Ok(())
}

/// The month's draft batch, waiting for approval: made in its own unit of work, once the
/// redemptions it pays are written.
pub(super) async fn draft_batch(tx: &mut Tx<'_>, now: Timestamp) -> Result<BatchView> {
    let operator_id = crate::orgs::operator_exists(tx)
        .await?
        .ok_or_else(|| anyhow::anyhow!("the demo has no operator"))?;
    let operator = crate::orgs::find(tx, &operator_id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("the operator vanished"))?;
    let today = now.to_zoned(crate::clock::paris()).date();
    let until = today
        .first_of_month()
        .yesterday()
        .map_err(anyhow::Error::from)?;
    crate::settlement::create(
        tx,
        &operator,
        NewBatch {
            until: until.to_string(),
        },
        now,
        SignedDuration::from_hours(48),
    )
    .await
}

/// The payer account's statement of yesterday (camt.053.001.08): the two funders' transfers,
/// which confirm their fundings when imported, and a bank fee for a person to set aside.
pub(super) fn statement(
    payer_iban: &str,
    fundings: &[(String, Cents, &str)],
    now: Timestamp,
) -> Result<String> {
    let day = now
        .to_zoned(crate::clock::paris())
        .date()
        .yesterday()
        .map_err(anyhow::Error::from)?;
    let fee = Cents::new(1_250);
    let received: Cents = fundings.iter().map(|(_, c, _)| *c).sum();
    let closing = received - fee;
    let amount = |c: Cents| format!("{}.{:02}", c.get() / 100, c.get() % 100);
    let payer = bank::Iban::parse(payer_iban)?.into_string();
    let mut entries = String::new();
    let entry = |n: usize, cents: Cents, credit: bool, family: &str, details: String| {
        format!(
            "<Ntry><NtryRef>{n}</NtryRef><Amt Ccy=\"EUR\">{}</Amt><CdtDbtInd>{}</CdtDbtInd>\
             <Sts><Cd>BOOK</Cd></Sts><BookgDt><Dt>{day}</Dt></BookgDt><ValDt><Dt>{day}</Dt></ValDt>\
             <AcctSvcrRef>DEMO-{day}-{n}</AcctSvcrRef>\
             <BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>{family}</Cd><SubFmlyCd>ESCT</SubFmlyCd></Fmly></Domn></BkTxCd>\
             <NtryDtls><TxDtls>{details}</TxDtls></NtryDtls></Ntry>",
            amount(cents),
            if credit { "CRDT" } else { "DBIT" },
        )
    };
    for (n, (reference, cents, debtor)) in fundings.iter().enumerate() {
        let details = format!(
            "<Refs><EndToEndId>{reference}</EndToEndId></Refs>\
             <RltdPties><Dbtr><Pty><Nm>{debtor}</Nm></Pty></Dbtr></RltdPties>\
             <RmtInf><Ustrd>VIR SEPA {debtor} {reference}</Ustrd></RmtInf>"
        );
        entries.push_str(&entry(n + 1, *cents, true, "RCDT", details));
    }
    entries.push_str(&entry(
        fundings.len() + 1,
        fee,
        false,
        "ICDT",
        "<RmtInf><Ustrd>FRAIS TENUE DE COMPTE</Ustrd></RmtInf>".into(),
    ));
    let balance = |code: &str, cents: Cents| {
        format!(
            "<Bal><Tp><CdOrPrtry><Cd>{code}</Cd></CdOrPrtry></Tp><Amt Ccy=\"EUR\">{}</Amt>\
             <CdtDbtInd>{}</CdtDbtInd><Dt><Dt>{day}</Dt></Dt></Bal>",
            amount(Cents::new(cents.get().abs())),
            if cents.get() < 0 { "DBIT" } else { "CRDT" }
        )
    };
    Ok(format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <Document xmlns=\"{}\"><BkToCstmrStmt>\
         <GrpHdr><MsgId>DEMO-RELEVE-{day}</MsgId><CreDtTm>{day}T22:00:00+01:00</CreDtTm></GrpHdr>\
         <Stmt><Id>DEMO-RELEVE-{day}</Id><CreDtTm>{day}T22:00:00+01:00</CreDtTm>\
         <Acct><Id><IBAN>{payer}</IBAN></Id><Ccy>EUR</Ccy></Acct>{}{}{entries}</Stmt>\
         </BkToCstmrStmt></Document>\n",
        crate::treasury::camt::NAMESPACE,
        balance("OPBD", Cents::ZERO),
        balance("CLBD", closing),
    ))
}
