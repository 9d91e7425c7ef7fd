//! `passnum demo`: a realistic programme with passes in every state, so a newcomer can try every call.

mod month;
mod sites;

use crate::app::AppState;
use crate::db::{Origin, Tx};
use crate::error::Result;
use crate::money::Cents;
use crate::orgs::{self, NewOrganization, Organization};
use crate::programs::{self, NewAllocation, NewFunding, NewProgram};
use crate::redemption::{self, NewRedemption};
use crate::vouchers::{self, codes, NewPass, PassView};
use jiff::{SignedDuration, ToSpan};
use std::fmt::Write as _;

struct Member {
    org: Organization,
    token: String,
}

#[allow(clippy::too_many_arguments)]
async fn member(
    tx: &mut Tx<'_>,
    operator: &Organization,
    kind: &str,
    name: &str,
    siret: Option<&str>,
    department: &str,
    postcode: &str,
    now: jiff::Timestamp,
) -> Result<Member> {
    let org = orgs::create(
        tx,
        operator,
        NewOrganization {
            kind: kind.into(),
            name: name.into(),
            siret: siret.map(Into::into),
            department: Some(department.into()),
            postcode: Some(postcode.into()),
            time_zone: None,
        },
        now,
    )
    .await?;
    let token = orgs::issue_token(tx, operator, &org.id, now).await?.token;
    Ok(Member { org, token })
}

/// Fills a fresh database; on a database that already has a demo, only says so.
/// The address the guide's links and commands name; `passnum demo` puts its own in its place.
pub const GUIDE_BASE: &str = "http://127.0.0.1:8080";

/// Where `passnum demo` writes the statement to import, in the current folder.
pub const STATEMENT_FILE: &str = "passnum-demo-releve.xml";

/// What the demo made: its guide, and the payer account's statement to import (none when the
/// database already held data).
pub struct Filled {
    pub guide: String,
    pub statement: Option<String>,
}

pub async fn fill(state: &AppState) -> Result<Filled> {
    let (keyring, database_url) = (state.keyring.clone(), state.config.database_url.clone());
    let (now, today) = (state.clock.now(), state.clock.today());
    let (payer_iban, letterhead) = (state.config.payer_iban.clone(), state.letterhead());
    let mut filled = state
        .db
        .transact(Origin::platform(), move |tx| {
            Box::pin(async move {
                let setting = Setting {
                    database_url: &database_url,
                    payer_iban: &payer_iban,
                    letterhead: &letterhead,
                };
                fill_in(tx, &keyring, &setting, now, today).await
            })
        })
        .await?;
    if filled.statement.is_some() {
        let batch = state
            .db
            .transact(Origin::platform(), move |tx| {
                Box::pin(async move { month::draft_batch(tx, now).await })
            })
            .await?;
        let line = format!(
            "  a draft batch paying last month's cheques, to approve: \
             {GUIDE_BASE}/operateur/reglements/{} ({})",
            batch.batch.id,
            batch.batch.total_cents.text()
        );
        filled.guide = filled.guide.replace(BATCH_LINE, &line);
    }
    Ok(filled)
}

/// Where the guide names the draft batch, made after the rest.
const BATCH_LINE: &str = "{batch}";

/// Where the demo runs.
struct Setting<'a> {
    database_url: &'a str,
    payer_iban: &'a str,
    letterhead: &'a crate::mail::Letterhead,
}

async fn fill_in(
    tx: &mut Tx<'_>,
    keyring: &codes::Keyring,
    setting: &Setting<'_>,
    now: jiff::Timestamp,
    today: jiff::civil::Date,
) -> Result<Filled> {
    let database_url = setting.database_url;
    if orgs::operator_exists(tx).await?.is_some() {
        return Ok(Filled {
            guide: "This database already holds data: the demo was not added again. \
                   Start from a fresh database (delete passnum.db) to see the demo guide."
                .into(),
            statement: None,
        });
    }
    let operator_token = orgs::bootstrap(tx, now).await?;
    let operator_id = orgs::operator_exists(tx)
        .await?
        .ok_or_else(|| anyhow::anyhow!("the operator was not created"))?;
    let operator = Member {
        org: orgs::find(tx, &operator_id)
            .await?
            .ok_or_else(|| anyhow::anyhow!("the operator vanished"))?,
        token: operator_token,
    };
    let gironde = member(
        tx,
        &operator.org,
        "funder",
        "Département de la Gironde",
        None,
        "33",
        "33000",
        now,
    )
    .await?;
    let roubaix = member(
        tx,
        &operator.org,
        "funder",
        "Ville de Roubaix",
        None,
        "59",
        "59100",
        now,
    )
    .await?;
    let france_travail = member(
        tx,
        &operator.org,
        "distributor",
        "France Travail Bordeaux Bastide",
        None,
        "33",
        "33100",
        now,
    )
    .await?;
    let caf = member(
        tx,
        &operator.org,
        "distributor",
        "CAF de la Gironde",
        None,
        "33",
        "33000",
        now,
    )
    .await?;
    let ccas = member(
        tx,
        &operator.org,
        "distributor",
        "CCAS de Roubaix",
        None,
        "59",
        "59100",
        now,
    )
    .await?;
    let sites_spec = [
        ("Médiathèque Flora Tristan", "33", "33000"),
        ("France Services Cenon", "33", "33150"),
        ("Association Les Connectés", "33", "33800"),
        ("Tiers-lieu La Condition Publique", "59", "59100"),
        ("Espace numérique de l'Alma", "59", "59100"),
    ];
    let mut sites = Vec::new();
    for (name, dep, postcode) in sites_spec {
        let mut site = member(
            tx,
            &operator.org,
            "site",
            name,
            Some("73282932000074"),
            dep,
            postcode,
            now,
        )
        .await?;
        let site_id = site.org.id.clone();
        let until = today.checked_add(1.year()).map_err(anyhow::Error::from)?;
        site.org = crate::sites::qualification::set_site(
            tx,
            &operator.org.id,
            &site_id,
            crate::sites::qualification::Status::Qualified,
            Some(until.to_string()),
            now,
        )
        .await?;
        sites.push(site);
    }
    sites::demo_places(tx, &sites, now).await?;
    sites::demo_catalogue(tx, &sites, now).await?;
    let unqualified = member(
        tx,
        &operator.org,
        "site",
        "Café associatif Le Lien (en attente de qualification)",
        None,
        "59",
        "59100",
        now,
    )
    .await?;

    let mut guide = String::new();
    let mut programmes = Vec::new();
    for (funder, name, department, distributors) in [
        (
            &gironde,
            "Pass numérique Gironde 2026",
            "33",
            vec![&france_travail, &caf],
        ),
        (&roubaix, "Pass numérique Roubaix", "59", vec![&ccas]),
    ] {
        let program = programs::create(
            tx,
            &funder.org,
            NewProgram {
                name: name.into(),
                budget_cents: Cents::euros(50_000),
                cheque_value_cents: None,
                validity_days: None,
                grace_days: Some(31),
                fee_rate_bp: None,
                fee_per_cheque_cents: None,
                department: Some(department.into()),
                territory: None,
                services: None,
                confirmed_funding_only: false,
                time_zone: None,
            },
            now,
        )
        .await?;
        programs::record_funding(
            tx,
            &funder.org,
            &program.id,
            NewFunding {
                amount_cents: Cents::euros(20_000),
                reference: format!("OP-{department}-2026-001"),
            },
            now,
        )
        .await?;
        for d in distributors {
            programs::allocate(
                tx,
                &funder.org,
                &program.id,
                NewAllocation {
                    distributor_id: d.org.id.clone(),
                    cheques: 500,
                },
                now,
            )
            .await?;
        }
        programmes.push(program);
    }

    let fresh = issue(
        tx,
        keyring,
        &programmes,
        &france_travail.org,
        0,
        10,
        true,
        "FT-2026-0001",
        now,
    )
    .await?;
    let partly = issue(
        tx,
        keyring,
        &programmes,
        &france_travail.org,
        0,
        5,
        true,
        "FT-2026-0002",
        now,
    )
    .await?;
    redeem(tx, keyring, now, &sites[0].org, &partly, 2).await?;
    let used_up = issue(
        tx,
        keyring,
        &programmes,
        &caf.org,
        0,
        5,
        true,
        "CAF-33-1187",
        now,
    )
    .await?;
    redeem(tx, keyring, now, &sites[1].org, &used_up, 5).await?;
    let stock = issue(tx, keyring, &programmes, &caf.org, 0, 10, false, "", now).await?;
    let lost = issue(
        tx,
        keyring,
        &programmes,
        &ccas.org,
        1,
        5,
        true,
        "CCAS-ROUBAIX-042",
        now,
    )
    .await?;
    redeem(tx, keyring, now, &sites[3].org, &lost, 1).await?;
    vouchers::cancel(tx, keyring, &ccas.org, &lost.id, now, today).await?;
    let long_ago = now
        .checked_sub(SignedDuration::from_hours(24 * 400))
        .map_err(anyhow::Error::from)?;
    let expired = issue(
        tx,
        keyring,
        &programmes,
        &ccas.org,
        1,
        5,
        true,
        "CCAS-ROUBAIX-007",
        long_ago,
    )
    .await?;

    month::bank_details(tx, &operator, &sites, setting.letterhead, now).await?;
    month::last_month(tx, keyring, &programmes, &france_travail, &sites, now).await?;
    let fundings = [
        (
            "OP-33-2026-001".to_string(),
            Cents::euros(20_000),
            "DEPARTEMENT DE LA GIRONDE",
        ),
        (
            "OP-59-2026-001".to_string(),
            Cents::euros(20_000),
            "VILLE DE ROUBAIX",
        ),
    ];
    let statement = month::statement(setting.payer_iban, &fundings, now)?;

    let mut logins = Vec::new();
    for (member, email, label) in [
        (&operator, "operateur@demo.passnum.fr", "operator"),
        (&gironde, "financeur@demo.passnum.fr", "funder"),
        (
            &france_travail,
            "distributeur@demo.passnum.fr",
            "distributor",
        ),
        (&sites[0], "lieu@demo.passnum.fr", "site"),
    ] {
        let password = format!("demo-{label}-passnum");
        crate::users::create(
            tx,
            &member.org.id,
            email,
            &format!("Agent {}", member.org.name),
            crate::users::Role::Admin,
            Some(&password),
            now,
        )
        .await?;
        logins.push((label, email, password, member.org.name.clone()));
    }

    let w = &mut guide;
    let _ = writeln!(w, "passnum demo — {} (database {})", today, database_url);
    let _ = writeln!(
        w,
        "\nWeb logins ({GUIDE_BASE}/connexion); the operator and the funder set up a second \
         factor at their first login (an authenticator app: Aegis, FreeOTP, Google Authenticator…):"
    );
    for (label, email, password, org) in &logins {
        let _ = writeln!(w, "  {label:<12} {email:<32} {password:<28} {org}");
    }
    let _ = writeln!(w, "\nAPI tokens (send as `Authorization: Bearer <token>`):");
    let _ = writeln!(
        w,
        "  operator     {:<40} {}",
        operator.org.name, operator.token
    );
    for m in [&gironde, &roubaix] {
        let _ = writeln!(w, "  funder       {:<40} {}", m.org.name, m.token);
    }
    for m in [&france_travail, &caf, &ccas] {
        let _ = writeln!(w, "  distributor  {:<40} {}", m.org.name, m.token);
    }
    for m in sites.iter().chain(std::iter::once(&unqualified)) {
        let _ = writeln!(w, "  site         {:<40} {}", m.org.name, m.token);
    }
    let _ = writeln!(w, "\nProgrammes:");
    for p in &programmes {
        let _ = writeln!(w, "  {}  {}", p.id, p.name);
    }
    let _ = writeln!(w, "\nCarnets (pass code → what it shows):");
    for (label, pass) in [
        ("10 cheques, none used", &fresh),
        ("5 cheques, 2 used", &partly),
        ("5 cheques, all used", &used_up),
        ("in stock, not yet activated", &stock),
        ("lost and cancelled", &lost),
        ("expired", &expired),
    ] {
        let _ = writeln!(w, "  {}  {label} (pass id {})", pass.pass_code, pass.id);
    }
    let _ = writeln!(
        w,
        "\nCheques a site can redeem now (short code / QR payload):"
    );
    for v in fresh.vouchers.iter().take(3) {
        let _ = writeln!(
            w,
            "  {}  {}",
            v.code,
            v.qr_payload.clone().unwrap_or_default()
        );
    }
    let _ = writeln!(w, "\nA month of money (operator):");
    let _ = writeln!(w, "{BATCH_LINE}");
    let _ = writeln!(
        w,
        "  a site asks to change its bank account, its RIB attached: {GUIDE_BASE}/operateur/banque"
    );
    let _ = writeln!(
        w,
        "  yesterday's statement of the payer account, in {STATEMENT_FILE}: import it at \
         {GUIDE_BASE}/operateur/tresorerie (it confirms both fundings and leaves a bank fee to set aside)"
    );
    let _ = writeln!(
        w,
        "  or: curl -s -X POST {GUIDE_BASE}/api/v1/bank-statements -H 'Authorization: Bearer {}' \
         --data-binary @{STATEMENT_FILE}",
        operator.token
    );
    let site_token = &sites[2].token;
    let _ = writeln!(w, "\nTry:");
    let _ = writeln!(
        w,
        "  curl -s {GUIDE_BASE}/api/v1/public/passes/{}",
        fresh.pass_code
    );
    let _ = writeln!(
        w,
        "  curl -s -X POST {GUIDE_BASE}/api/v1/redemptions -H 'Authorization: Bearer {site_token}' \
         -H 'Content-Type: application/json' -d '{{\"code\": \"{}\", \"service\": \"workshop\", \"minutes\": 120}}'",
        fresh.vouchers.get(3).map(|v| v.code.as_str()).unwrap_or_default()
    );
    let _ = writeln!(
        w,
        "  the same code again → 409 already_redeemed; a typo such as {} → 422 invalid_code",
        typo_of(&fresh.vouchers[4].code)
    );
    Ok(Filled {
        guide,
        statement: Some(statement),
    })
}

#[allow(clippy::too_many_arguments)]
async fn issue(
    tx: &mut Tx<'_>,
    keyring: &codes::Keyring,
    programmes: &[programs::Program],
    distributor: &Organization,
    programme: usize,
    cheques: i64,
    active: bool,
    reference: &str,
    at: jiff::Timestamp,
) -> Result<PassView> {
    let new = NewPass {
        program_id: programmes[programme].id.clone(),
        cheques,
        beneficiary_ref: Some(reference.into()),
        email: None,
        active: Some(active),
        // The demo's carnets show the level of help noted at issuance.
        help_level: Some(
            if cheques == 10 {
                "inclusion"
            } else {
                "emergency"
            }
            .into(),
        ),
        ..NewPass::default()
    };
    vouchers::issue(tx, keyring, distributor, new, at).await
}

/// Redeems the first `n` cheques of a pass.
async fn redeem(
    tx: &mut Tx<'_>,
    keyring: &codes::Keyring,
    now: jiff::Timestamp,
    site: &Organization,
    pass: &PassView,
    n: usize,
) -> Result<()> {
    for voucher in pass.vouchers.iter().take(n) {
        let new = NewRedemption {
            code: Some(voucher.code.clone()),
            service: Some("individual_help".into()),
            minutes: Some(60),
            ..Default::default()
        };
        redemption::redeem(tx, keyring, site, new, now).await?;
    }
    Ok(())
}

/// The code with its check symbol changed: what a typing mistake looks like.
fn typo_of(code: &str) -> String {
    let mut canonical = code.replace('-', "");
    let last = canonical.pop().unwrap_or('0');
    canonical.push(if last == 'X' { 'Y' } else { 'X' });
    codes::display_code(&canonical)
}
