//! Programmes bought by funders: budget, cheque value, validity. Value only becomes usable as
//! the funder's money is recorded as received, and is then allocated to distributors as quotas.

mod closing;
mod notices;
mod repo;
mod territory;

use crate::clock::format_ts;
use crate::db::{Conn, Tx};
use crate::error::{Error, Result};
use crate::ledger::{self, Account, Kind, Transfer};
use crate::money::Cents;
use crate::orgs::{OrgKind, Organization};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

pub use closing::{
    cancel_close, close_due, earliest_close, ended_on, issuance_until, schedule_close,
    CloseRequest, Closing, ISSUANCE_STOP_DAYS, NOTICE_DAYS,
};
pub use notices::{send_close_notices, NOTICE_MILESTONES};
pub use repo::{local_days, zone_of, FundingRow, Program};
pub use territory::{refusal as rules_refusal, Services, Territory};

/// Ten euros, worth two hours of mediation.
pub const DEFAULT_CHEQUE_VALUE: Cents = Cents::euros(10);
pub const DEFAULT_VALIDITY_DAYS: i64 = 365;
/// A bound that keeps every sum far from i64 overflow: a billion euros.
const MAX_AMOUNT: Cents = Cents::euros(1_000_000_000);

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewProgram {
    pub name: String,
    pub budget_cents: Cents,
    pub cheque_value_cents: Option<Cents>,
    pub validity_days: Option<i64>,
    pub grace_days: Option<i64>,
    /// Operator fee in basis points of each settled amount (400 = 4 %).
    pub fee_rate_bp: Option<i64>,
    /// Operator fee per settled cheque, in cents.
    pub fee_per_cheque_cents: Option<Cents>,
    pub department: Option<String>,
    /// Where the cheques are accepted: départements ("33", "2A", "971") and communes by INSEE
    /// code ("33063"). Unset: the département above, or the whole country without one.
    #[serde(default)]
    pub territory: Option<Vec<String>>,
    /// The kinds of help the cheques pay for, among `individual_help`,
    /// `administrative_procedure` and `workshop`. Unset or empty: every kind.
    #[serde(default)]
    pub services: Option<Vec<String>>,
    /// Only money seen on the payer account's statement (confirmed fundings) backs
    /// allocations; by default a funding backs them once declared.
    #[serde(default)]
    pub confirmed_funding_only: bool,
    /// The zone where its cheques' last day ends at midnight (a tz name, "Pacific/Noumea").
    /// Unset: the zone of its territory (Paris when it spans several zones or the country).
    #[serde(default)]
    pub time_zone: Option<String>,
}

crate::text_enum! {
    /// Whether the money of a funding was seen on the bank's statement (the CHECK of
    /// `fundings.status`).
    pub enum FundingStatus {
        /// Said by the funder to have been sent.
        Declared = "declared",
        /// Matched to a credit of the payer account's statement.
        Confirmed = "confirmed",
    }
}

crate::text_enum! {
    /// Whether a programme still runs (the CHECK of `programs.status`).
    pub enum ProgramStatus {
        Open = "open",
        /// Closed: unused cheques expired, quotas came back, the rest went back to the funder.
        Closed = "closed",
    }
}

pub async fn create(
    tx: &mut Tx<'_>,
    funder: &Organization,
    new: NewProgram,
    now: Timestamp,
) -> Result<Program> {
    funder.require(OrgKind::Funder)?;
    let name = new.name.trim();
    if name.is_empty() || name.chars().count() > 200 || name.contains(char::is_control) {
        return Err(Error::invalid(
            "invalid_name",
            "Le nom du programme est obligatoire (200 caractères au plus).",
        ));
    }
    check_amount(new.budget_cents, "invalid_budget", "Le budget")?;
    let cheque_value_cents = new.cheque_value_cents.unwrap_or(DEFAULT_CHEQUE_VALUE);
    if !(Cents::euros(1)..=Cents::euros(1000)).contains(&cheque_value_cents) {
        return Err(Error::invalid(
            "invalid_cheque_value",
            "La valeur d'un chèque doit être comprise entre 1 € et 1 000 € (100 à 100000 centimes).",
        ));
    }
    let validity_days = new.validity_days.unwrap_or(DEFAULT_VALIDITY_DAYS);
    if !(1..=3660).contains(&validity_days) {
        return Err(Error::invalid(
            "invalid_validity",
            "La durée de validité doit être comprise entre 1 et 3660 jours.",
        ));
    }
    let grace_days = new.grace_days.unwrap_or(0);
    if !(0..=366).contains(&grace_days) {
        return Err(Error::invalid(
            "invalid_grace",
            "Le délai de grâce doit être compris entre 0 et 366 jours.",
        ));
    }
    let fee_rate_bp = new.fee_rate_bp.unwrap_or(0);
    let fee_per_cheque_cents = new.fee_per_cheque_cents.unwrap_or_default();
    if !(0..=2000).contains(&fee_rate_bp)
        || !(Cents::ZERO..=cheque_value_cents).contains(&fee_per_cheque_cents)
    {
        return Err(Error::invalid(
            "invalid_fee",
            "Les frais de gestion vont de 0 à 20 % (0 à 2000 points de base) et, par chèque, de 0 à la valeur du chèque.",
        ));
    }
    let department = new
        .department
        .map(|d| d.trim().to_uppercase())
        .filter(|d| !d.is_empty());
    if let Some(d) = &department {
        if !crate::fr::is_valid_department(d) {
            return Err(Error::invalid(
                "invalid_department",
                crate::fr::DEPARTMENT_FORMAT,
            ));
        }
    }
    let territory = match &new.territory {
        Some(codes) => Territory::parse(codes)?,
        None => Territory::parse(department.as_slice())?,
    };
    let services = Services::parse(new.services.as_deref().unwrap_or_default())?;
    let time_zone = crate::zones::parse_stored(new.time_zone.as_deref())?;
    let program = Program {
        id: crate::db::new_id(),
        funder_id: funder.id.clone(),
        name: name.to_string(),
        budget_cents: new.budget_cents,
        cheque_value_cents,
        validity_days,
        grace_days,
        fee_rate_bp,
        fee_per_cheque_cents,
        department,
        territory,
        services,
        status: ProgramStatus::Open,
        closed_at: None,
        closes_on: None,
        time_zone,
    };
    let now_text = format_ts(now);
    repo::insert(tx, &program, &now_text).await?;
    if new.confirmed_funding_only {
        repo::set_confirmed_funding_only(tx, &program.id).await?;
    }
    crate::audit::record(
        tx,
        &now_text,
        Some(&funder.id),
        "program.created",
        Some(&program.id),
        &format!(
            "{} : budget {}, chèques de {}, territoire [{}], aides [{}]{}",
            program.name,
            program.budget_cents.text(),
            program.cheque_value_cents.text(),
            program.territory.stored(),
            program.services.stored(),
            if new.confirmed_funding_only {
                ", seul l'argent reçu est réparti"
            } else {
                ""
            }
        ),
    )
    .await?;
    Ok(program)
}

fn check_amount(amount: Cents, code: &'static str, what: &str) -> Result<()> {
    if !amount.is_positive() || amount > MAX_AMOUNT {
        return Err(Error::invalid(
            code,
            format!("{what} doit être un nombre entier de centimes, positif et d'au plus un milliard d'euros."),
        ));
    }
    Ok(())
}

/// A programme as its funder (or the operator) may see it; anyone else gets a 404.
pub async fn get_for(conn: &mut Conn, org: &Organization, id: &str) -> Result<Program> {
    let program = repo::find(conn, id).await?;
    match program {
        Some(p) if p.funder_id == org.id || org.kind == OrgKind::Operator => Ok(p),
        _ => Err(Error::not_found("Ce programme n'existe pas.")),
    }
}

/// Sets (or, with none, removes) the zone where a programme's cheques' last day ends: its
/// funder or the operator (audited).
pub async fn set_time_zone(
    tx: &mut Tx<'_>,
    org: &Organization,
    id: &str,
    change: crate::zones::ZoneChange,
    now: Timestamp,
) -> Result<crate::zones::ZoneSetting> {
    let mut program = get_for(tx, org, id).await?;
    program.time_zone = crate::zones::parse_stored(change.time_zone.as_deref())?;
    repo::set_time_zone(tx, id, program.time_zone.as_deref()).await?;
    let setting = crate::zones::ZoneSetting::new(id, program.time_zone.clone(), &program.zone());
    crate::audit::record(
        tx,
        &format_ts(now),
        Some(&org.id),
        "program.time_zone_changed",
        Some(id),
        &setting.zone,
    )
    .await?;
    Ok(setting)
}

/// A funder's programmes, newest first.
pub async fn list_for_funder(conn: &mut Conn, funder: &Organization) -> Result<Vec<Program>> {
    funder.require(OrgKind::Funder)?;
    repo::list_for_funder(conn, &funder.id).await
}

/// Money can only be paid in and allocated while the programme is open.
fn require_open(program: &Program) -> Result<()> {
    if program.status != ProgramStatus::Open {
        return Err(Error::gone(
            "program_closed",
            "Ce programme est clos : il ne reçoit plus de versement ni d'attribution.",
        ));
    }
    Ok(())
}

/// Any programme, whoever asks; callers check what the caller may do with it.
pub async fn find(conn: &mut Conn, id: &str) -> Result<Option<Program>> {
    repo::find(conn, id).await
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewFunding {
    pub amount_cents: Cents,
    pub reference: String,
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Funding {
    pub id: String,
    pub program_id: String,
    pub amount_cents: Cents,
    pub reference: String,
    pub funded_cents: Cents,
    /// `declared` until the money is seen on the payer account's statement.
    pub status: FundingStatus,
}

/// Records money received from the funder (its payment-order reference): only then can the
/// value be allocated, so every cheque in circulation is backed by money held for it.
pub async fn record_funding(
    tx: &mut Tx<'_>,
    funder: &Organization,
    program_id: &str,
    new: NewFunding,
    now: Timestamp,
) -> Result<Funding> {
    funder.require(OrgKind::Funder)?;
    let program = get_for(tx, funder, program_id).await?;
    require_open(&program)?;
    check_amount(new.amount_cents, "invalid_amount", "Le montant")?;
    let reference = new.reference.trim();
    if reference.is_empty() || reference.chars().count() > 100 {
        return Err(Error::invalid(
            "invalid_reference",
            "Indiquez la référence de l'ordre de paiement (100 caractères au plus).",
        ));
    }
    let funded = ledger::balance(tx, &program.id, Account::Funder).await?;
    if -funded + new.amount_cents > program.budget_cents {
        return Err(Error::invalid(
            "budget_exceeded",
            format!(
                "Ce versement dépasserait le budget du programme : il reste {} à financer.",
                (program.budget_cents + funded).text()
            ),
        ));
    }
    let id = crate::db::new_id();
    let now_text = format_ts(now);
    repo::insert_funding(tx, &id, &program.id, new.amount_cents, reference, &now_text).await?;
    crate::audit::record(
        tx,
        &now_text,
        Some(&funder.id),
        "funding.declared",
        Some(&program.id),
        &format!("{}, référence {reference}", new.amount_cents.text()),
    )
    .await?;
    ledger::post(
        tx,
        &program.id,
        Kind::Funding,
        &id,
        Transfer {
            from: Account::Funder,
            to: Account::Available,
            amount_cents: new.amount_cents,
        },
        &now_text,
    )
    .await?;
    Ok(Funding {
        id,
        program_id: program.id,
        amount_cents: new.amount_cents,
        reference: reference.to_string(),
        funded_cents: -funded + new.amount_cents,
        status: FundingStatus::Declared,
    })
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAllocation {
    pub distributor_id: String,
    pub cheques: i64,
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Allocation {
    pub id: String,
    pub program_id: String,
    pub distributor_id: String,
    pub cheques: i64,
    pub amount_cents: Cents,
}

/// Gives a distributor a quota of cheques, out of funded value not yet allocated.
pub async fn allocate(
    tx: &mut Tx<'_>,
    funder: &Organization,
    program_id: &str,
    new: NewAllocation,
    now: Timestamp,
) -> Result<Allocation> {
    funder.require(OrgKind::Funder)?;
    let program = get_for(tx, funder, program_id).await?;
    require_open(&program)?;
    if !(1..=10_000_000).contains(&new.cheques) {
        return Err(Error::invalid(
            "invalid_cheques",
            "Le nombre de chèques doit être compris entre 1 et 10 000 000.",
        ));
    }
    let distributor = crate::orgs::find(tx, &new.distributor_id)
        .await?
        .filter(|o| o.kind == OrgKind::Distributor)
        .ok_or_else(|| {
            Error::invalid(
                "unknown_distributor",
                "Aucun distributeur ne porte cet identifiant.",
            )
        })?;
    let amount_cents = program.cheque_value_cents * new.cheques;
    if repo::confirmed_funding_only(tx, &program.id).await? {
        require_confirmed_backing(tx, &program.id, amount_cents).await?;
    }
    let id = crate::db::new_id();
    let now_text = format_ts(now);
    repo::insert_allocation(
        tx,
        &id,
        &program.id,
        &distributor.id,
        new.cheques,
        amount_cents,
        &now_text,
    )
    .await?;
    crate::audit::record(
        tx,
        &now_text,
        Some(&funder.id),
        "allocation.created",
        Some(&program.id),
        &format!(
            "{} chèques ({}) à {}",
            new.cheques,
            amount_cents.text(),
            distributor.name
        ),
    )
    .await?;
    ledger::post(
        tx,
        &program.id,
        Kind::Allocation,
        &id,
        Transfer {
            from: Account::Available,
            to: Account::Quota(&distributor.id),
            amount_cents,
        },
        &now_text,
    )
    .await?;
    Ok(Allocation {
        id,
        program_id: program.id,
        distributor_id: distributor.id,
        cheques: new.cheques,
        amount_cents,
    })
}

/// Every programme (the operator's views).
pub async fn list_all(conn: &mut Conn) -> Result<Vec<Program>> {
    repo::list_all(conn).await
}

/// Fundings declared and not yet seen on a statement, oldest first.
pub async fn declared_fundings(conn: &mut Conn) -> Result<Vec<FundingRow>> {
    repo::declared_fundings(conn).await
}

pub async fn find_funding(conn: &mut Conn, id: &str) -> Result<Option<FundingRow>> {
    repo::find_funding(conn, id).await
}

/// A programme's fundings, declared and confirmed.
pub async fn fundings_of(conn: &mut Conn, program_id: &str) -> Result<Vec<FundingRow>> {
    repo::fundings_of(conn, program_id).await
}

/// Marks a declared funding as seen on the statement (entry `entry_id`); false if it was not
/// declared any more. The treasury journals it.
pub async fn confirm_funding(conn: &mut Conn, id: &str, entry_id: &str, at: &str) -> Result<bool> {
    repo::confirm_funding(conn, id, entry_id, at).await
}

/// For a programme backed by confirmed fundings only: what is allocated, issued, used or paid,
/// plus `amount`, must not exceed the money seen on the statement.
async fn require_confirmed_backing(tx: &mut Tx<'_>, program_id: &str, amount: Cents) -> Result<()> {
    let fundings = repo::fundings_of(tx, program_id).await?;
    let sum = |status: FundingStatus| -> Cents {
        fundings
            .iter()
            .filter(|f| f.status == status)
            .map(|f| f.amount_cents)
            .sum()
    };
    let (confirmed, declared) = (sum(FundingStatus::Confirmed), sum(FundingStatus::Declared));
    // Available holds both kinds; what is not available was committed out of either.
    let available = ledger::balance(tx, program_id, Account::Available).await?;
    let committed = confirmed + declared - available;
    let free = confirmed - committed;
    if amount > free {
        return Err(Error::conflict(
            "funding_not_confirmed",
            format!(
                "Ce programme ne répartit que l'argent reçu sur le compte du Pass numérique : \
                 {} disponible{}. Les versements annoncés ({}) le seront dès qu'ils \
                 apparaîtront sur le relevé de banque.",
                free.max(Cents::ZERO).text(),
                if free.get() > 100 { "s" } else { "" },
                declared.text()
            ),
        ));
    }
    Ok(())
}

impl Program {
    /// The operator fee on `redemptions` cheques worth `amount_cents`. Rounding rule: the rate
    /// part is rounded down to the cent, in the site's favour; the fee never exceeds the amount,
    /// and fee + what the site receives always equals the amount exactly.
    pub fn fee_cents(&self, redemptions: i64, amount_cents: Cents) -> Cents {
        let rate_part = Cents::new(amount_cents.get() * self.fee_rate_bp / 10_000);
        let fixed_part = self.fee_per_cheque_cents * redemptions;
        (rate_part + fixed_part).clamp(Cents::ZERO, amount_cents)
    }
}
