//! A site's statement for one batch: every cheque it was paid for, and the total.
//! CSV for spreadsheets as used in France: `;` between fields, a decimal comma.

use super::repo;
use crate::db::Conn;
use crate::error::{Error, Result};
use crate::fr::euros;
use crate::orgs::{OrgKind, Organization};

pub async fn statement_csv(
    conn: &mut Conn,
    org: &Organization,
    batch_id: &str,
    site_id: &str,
) -> Result<String> {
    if org.kind != OrgKind::Operator && org.id != site_id {
        return Err(Error::not_found("Ce relevé n'existe pas."));
    }
    let lines: Vec<_> = repo::lines_of(conn, batch_id)
        .await?
        .into_iter()
        .filter(|l| l.site_id == site_id)
        .collect();
    if lines.is_empty() {
        return Err(Error::not_found("Ce relevé n'existe pas."));
    }
    let mut out = csv::WriterBuilder::new()
        .delimiter(b';')
        .from_writer(Vec::new());
    let write_error = |e: csv::Error| Error::Internal(e.into());
    out.write_record([
        "Code du chèque",
        "Date",
        "Service",
        "Durée (minutes)",
        "Programme",
        "Montant (€)",
    ])
    .map_err(write_error)?;
    for (code, redeemed_at, service, minutes, program, value) in
        repo::statement_rows(conn, batch_id, site_id).await?
    {
        out.write_record([
            crate::vouchers::codes::display_code(&code),
            redeemed_at.get(..10).unwrap_or_default().to_string(),
            crate::redemption::service_label(service.as_deref()).to_string(),
            minutes.map(|m| m.to_string()).unwrap_or_default(),
            program,
            euros(value),
        ])
        .map_err(write_error)?;
    }
    let fee: i64 = lines.iter().map(|l| l.fee_cents).sum();
    if fee > 0 {
        out.write_record([
            "",
            "",
            "Frais de gestion de l'opérateur",
            "",
            "",
            &euros(-fee),
        ])
        .map_err(write_error)?;
    }
    for line in lines.iter().filter(|l| l.carried_cents > 0) {
        out.write_record([
            "",
            "",
            "Report d'un virement rejeté par la banque",
            "",
            "",
            &euros(line.carried_cents),
        ])
        .map_err(write_error)?;
    }
    let total: i64 = lines.iter().map(|l| l.amount_cents).sum();
    out.write_record(["Total", "", "", "", "", &euros(total)])
        .map_err(write_error)?;
    let bytes = out
        .into_inner()
        .map_err(|e| Error::Internal(anyhow::anyhow!("CSV: {e}")))?;
    String::from_utf8(bytes).map_err(|e| Error::Internal(e.into()))
}
