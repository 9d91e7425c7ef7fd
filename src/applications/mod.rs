//! Applications of mediation structures to join the Pass numérique, and the eligibility
//! questionnaire the operator edits. An applicant follows its application through a private
//! link (only the token's hash is kept) and corrects it when the operator asks; qualifying it
//! creates the site organisation, its places, its bank account and its administrator's access
//! in the operator's transaction.

mod repo;

use crate::clock::format_ts;
use crate::config::Config;
use crate::db::{Conn, Tx};
use crate::error::{Error, Result};
use crate::orgs::{NewOrganization, OrgKind, Organization};
use crate::users::{random_token, token_hash, Role};
use jiff::civil::Date;
use jiff::Timestamp;

/// More places than this is a network: it applies with the operator's help.
pub const MAX_PLACES: usize = 20;

/// A yes/no question of the eligibility questionnaire.
#[derive(Clone, Debug)]
pub struct Question {
    pub id: String,
    pub position: i64,
    pub text: String,
    pub active: bool,
}

/// One place as the applicant gives it.
#[derive(Clone, Debug, Default)]
pub struct PlaceDraft {
    pub name: String,
    pub address: String,
    pub postcode: String,
    pub commune: String,
}

impl PlaceDraft {
    fn is_blank(&self) -> bool {
        [&self.name, &self.address, &self.postcode, &self.commune]
            .iter()
            .all(|v| v.trim().is_empty())
    }
}

/// An answer, with the question's text as it was when answered.
#[derive(Clone, Debug)]
pub struct Answer {
    pub question_id: String,
    pub question_text: String,
    pub answer: String,
}

/// What the form sends. Answers are keyed by question id.
#[derive(Clone, Debug, Default)]
pub struct Draft {
    pub org_name: String,
    pub siret: String,
    pub places: Vec<PlaceDraft>,
    pub contact_name: String,
    pub contact_email: String,
    pub contact_phone: String,
    pub legal_name: String,
    pub legal_role: String,
    pub iban: String,
    pub holder: String,
    pub answers: Vec<(String, String)>,
    pub charter: bool,
}

impl Draft {
    pub fn answer(&self, question_id: &str) -> &str {
        self.answers
            .iter()
            .find(|(q, _)| q == question_id)
            .map(|(_, a)| a.as_str())
            .unwrap_or_default()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Received,
    UnderReview,
    ChangesRequested,
    Qualified,
    Rejected,
}

impl Status {
    pub fn as_str(&self) -> &'static str {
        match self {
            Status::Received => "received",
            Status::UnderReview => "under_review",
            Status::ChangesRequested => "changes_requested",
            Status::Qualified => "qualified",
            Status::Rejected => "rejected",
        }
    }

    pub fn parse(text: &str) -> Option<Status> {
        Some(match text {
            "received" => Status::Received,
            "under_review" => Status::UnderReview,
            "changes_requested" => Status::ChangesRequested,
            "qualified" => Status::Qualified,
            "rejected" => Status::Rejected,
            _ => return None,
        })
    }

    /// In plain words, for the applicant and the operator.
    pub fn label(&self) -> &'static str {
        match self {
            Status::Received => "Candidature reçue",
            Status::UnderReview => "Candidature en cours d'examen",
            Status::ChangesRequested => "Modifications demandées",
            Status::Qualified => "Candidature acceptée : structure qualifiée",
            Status::Rejected => "Candidature refusée",
        }
    }

    /// Whether the operator can still decide on it.
    pub fn is_open(&self) -> bool {
        matches!(self, Status::Received | Status::UnderReview)
    }
}

#[derive(Clone, Debug)]
pub struct Application {
    pub id: String,
    pub status: Status,
    pub org_name: String,
    pub siret: String,
    pub contact_name: String,
    pub contact_email: String,
    pub contact_phone: String,
    pub legal_name: String,
    pub legal_role: String,
    pub iban: String,
    pub holder: String,
    pub operator_message: Option<String>,
    pub site_org_id: Option<String>,
    pub qualified_until: Option<String>,
    pub submitted_at: String,
    pub updated_at: String,
    pub places: Vec<PlaceDraft>,
    pub answers: Vec<Answer>,
}

impl Application {
    /// The form as it was sent, to correct it.
    pub fn to_draft(&self) -> Draft {
        Draft {
            org_name: self.org_name.clone(),
            siret: self.siret.clone(),
            places: self.places.clone(),
            contact_name: self.contact_name.clone(),
            contact_email: self.contact_email.clone(),
            contact_phone: self.contact_phone.clone(),
            legal_name: self.legal_name.clone(),
            legal_role: self.legal_role.clone(),
            iban: self.iban.clone(),
            holder: self.holder.clone(),
            answers: self
                .answers
                .iter()
                .map(|a| (a.question_id.clone(), a.answer.clone()))
                .collect(),
            charter: false,
        }
    }
}

/// A checked draft, normalised, ready to store.
struct Checked {
    draft: Draft,
    answers: Vec<Answer>,
}

fn required(value: &str, max: usize, code: &'static str, message: &'static str) -> Result<String> {
    let value = value.trim();
    if value.is_empty() || value.chars().count() > max {
        return Err(Error::invalid(code, message));
    }
    Ok(value.to_string())
}

/// Checks a draft against the active questions; the first problem is returned, in French.
fn check(draft: &Draft, questions: &[Question]) -> Result<Checked> {
    let org_name = required(
        &draft.org_name,
        200,
        "invalid_org_name",
        "Indiquez le nom de votre structure (200 caractères au plus).",
    )?;
    let siret: String = draft.siret.chars().filter(|c| !c.is_whitespace()).collect();
    if !crate::fr::is_valid_siret(&siret) {
        return Err(Error::invalid(
            "invalid_siret",
            "Le numéro SIRET doit compter 14 chiffres et être valide : vérifiez-le sur un avis de situation Insee ou sur annuaire-entreprises.data.gouv.fr.",
        ));
    }
    let given: Vec<&PlaceDraft> = draft.places.iter().filter(|p| !p.is_blank()).collect();
    if given.is_empty() {
        return Err(Error::invalid(
            "missing_place",
            "Indiquez au moins un lieu où vous accueillez le public : son nom, son adresse, son code postal et sa commune.",
        ));
    }
    if given.len() > MAX_PLACES {
        return Err(Error::invalid(
            "too_many_places",
            format!("Une candidature compte {MAX_PLACES} lieux au plus : pour un réseau plus grand, contactez l'opérateur."),
        ));
    }
    let mut places = Vec::with_capacity(given.len());
    for (i, p) in given.iter().enumerate() {
        let n = i + 1;
        let incomplete = || {
            Error::invalid(
                "incomplete_place",
                format!(
                    "Lieu n° {n} : indiquez son nom, son adresse, son code postal et sa commune."
                ),
            )
        };
        let field = |v: &str, max: usize| {
            let v = v.trim();
            (!v.is_empty() && v.chars().count() <= max)
                .then(|| v.to_string())
                .ok_or_else(incomplete)
        };
        let postcode = p.postcode.trim().to_string();
        if !postcode.is_empty() && !crate::fr::is_valid_postcode(&postcode) {
            return Err(Error::invalid(
                "invalid_postcode",
                format!("Lieu n° {n} : le code postal doit compter 5 chiffres (exemple : 33000)."),
            ));
        }
        places.push(PlaceDraft {
            name: field(&p.name, 200)?,
            address: field(&p.address, 300)?,
            postcode: field(&postcode, 5)?,
            commune: field(&p.commune, 100)?,
        });
    }
    let contact_name = required(
        &draft.contact_name,
        100,
        "invalid_contact_name",
        "Indiquez le nom de la personne à contacter (100 caractères au plus).",
    )?;
    let contact_email = crate::mail::Email::parse(&draft.contact_email)?.into_string();
    let phone: String = draft
        .contact_phone
        .chars()
        .filter(|c| !c.is_whitespace() && !matches!(c, '.' | '-'))
        .collect();
    let digits = phone.trim_start_matches('+');
    if !(10..=15).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::invalid(
            "invalid_phone",
            "Le numéro de téléphone doit compter 10 chiffres (exemple : 05 56 00 00 00).",
        ));
    }
    let legal_name = required(
        &draft.legal_name,
        100,
        "invalid_legal_name",
        "Indiquez le nom du représentant légal de la structure (100 caractères au plus).",
    )?;
    let legal_role = required(
        &draft.legal_role,
        100,
        "invalid_legal_role",
        "Indiquez la fonction du représentant légal (exemple : présidente, directeur).",
    )?;
    let iban = crate::sites::parse_iban(&draft.iban)?;
    let holder = required(
        &draft.holder,
        70,
        "invalid_holder",
        "Indiquez le titulaire du compte bancaire (70 caractères au plus).",
    )?;
    let mut answers = Vec::with_capacity(questions.len());
    for (i, q) in questions.iter().filter(|q| q.active).enumerate() {
        let answer = draft.answer(&q.id);
        if !matches!(answer, "oui" | "non") {
            return Err(Error::invalid(
                "missing_answer",
                format!(
                    "Répondez par oui ou par non à la question d'éligibilité n° {} : « {} »",
                    i + 1,
                    q.text
                ),
            ));
        }
        answers.push(Answer {
            question_id: q.id.clone(),
            question_text: q.text.clone(),
            answer: answer.to_string(),
        });
    }
    if !draft.charter {
        return Err(Error::invalid(
            "charter_not_accepted",
            "Pour candidater, lisez la charte du Pass numérique et cochez la case qui dit que vous l'acceptez.",
        ));
    }
    Ok(Checked {
        draft: Draft {
            org_name,
            siret,
            places,
            contact_name,
            contact_email,
            contact_phone: phone,
            legal_name,
            legal_role,
            iban,
            holder,
            answers: Vec::new(),
            charter: true,
        },
        answers,
    })
}

fn follow_url(config: &Config, token: &str) -> String {
    format!(
        "{}/candidature/suivi/{token}",
        config.public_url.trim_end_matches('/')
    )
}

fn help_line(config: &Config) -> String {
    format!(
        "Besoin d'aide ? Appelez le {} ou écrivez à {}.",
        config.helpline_phone, config.helpline_email
    )
}

async fn mail_contact(
    tx: &mut Tx<'_>,
    to: &str,
    subject: &str,
    body: String,
    now: Timestamp,
) -> Result<()> {
    let mail = crate::mail::Outgoing {
        to: to.to_string(),
        subject: subject.to_string(),
        text_body: body,
        html_body: None,
        attachments: Vec::new(),
    };
    crate::mail::enqueue(tx, &mail, now).await?;
    Ok(())
}

/// Stores a new application and e-mails its private follow-up link. Returns `(id, token)`.
pub async fn submit(
    tx: &mut Tx<'_>,
    config: &Config,
    draft: &Draft,
    now: Timestamp,
) -> Result<(String, String)> {
    let questions = repo::questions(tx, true).await?;
    let checked = check(draft, &questions)?;
    let id = crate::db::new_id();
    let token = random_token();
    let at = format_ts(now);
    repo::insert(tx, &id, &checked.draft, &token_hash(&token), &at).await?;
    repo::replace_details(tx, &id, &checked.draft.places, &checked.answers).await?;
    crate::audit::record(
        tx,
        &at,
        None,
        "application.submitted",
        Some(&id),
        &format!(
            "{} (SIRET {}), {} lieu(x)",
            checked.draft.org_name,
            checked.draft.siret,
            checked.draft.places.len()
        ),
    )
    .await?;
    let body = format!(
        "Bonjour {name},\n\n\
         Nous avons bien reçu la candidature de {org} au Pass numérique. L'opérateur va \
         l'examiner ; vous recevrez un e-mail dès qu'il aura décidé ou s'il vous demande des modifications.\n\n\
         Pour suivre votre candidature à tout moment, ouvrez ce lien personnel (gardez-le pour \
         vous, il ne s'affiche qu'ici) :\n{url}\n\n{help}\n",
        name = checked.draft.contact_name,
        org = checked.draft.org_name,
        url = follow_url(config, &token),
        help = help_line(config),
    );
    mail_contact(
        tx,
        &checked.draft.contact_email,
        "Pass numérique : votre candidature est bien reçue",
        body,
        now,
    )
    .await?;
    Ok((id, token))
}

/// The application a follow-up link points to.
pub async fn by_token(conn: &mut Conn, token: &str) -> Result<Application> {
    let not_found = || {
        Error::not_found(
            "Ce lien de suivi ne correspond à aucune candidature. Vérifiez qu'il est complet, tel que dans l'e-mail reçu.",
        )
    };
    if token.is_empty() || token.len() > 100 {
        return Err(not_found());
    }
    let id = repo::id_by_token_hash(conn, &token_hash(token))
        .await?
        .ok_or_else(not_found)?;
    find(conn, &id).await?.ok_or_else(not_found)
}

pub async fn find(conn: &mut Conn, id: &str) -> Result<Option<Application>> {
    repo::find(conn, id).await
}

/// Every application, newest first.
pub async fn list(conn: &mut Conn) -> Result<Vec<Application>> {
    repo::list(conn).await
}

/// The applicant corrects an application the operator sent back.
pub async fn resubmit(
    tx: &mut Tx<'_>,
    config: &Config,
    token: &str,
    draft: &Draft,
    now: Timestamp,
) -> Result<Application> {
    let app = by_token(tx, token).await?;
    if app.status != Status::ChangesRequested {
        return Err(Error::conflict(
            "not_changeable",
            "Cette candidature ne peut plus être modifiée : l'opérateur ne vous a pas demandé de changement.",
        ));
    }
    let questions = repo::questions(tx, true).await?;
    let checked = check(draft, &questions)?;
    let at = format_ts(now);
    repo::update_details(tx, &app.id, &checked.draft, &at).await?;
    repo::replace_details(tx, &app.id, &checked.draft.places, &checked.answers).await?;
    repo::set_status(tx, &app.id, Status::Received, None, &at).await?;
    crate::audit::record(
        tx,
        &at,
        None,
        "application.resubmitted",
        Some(&app.id),
        &format!("{} (SIRET {})", checked.draft.org_name, checked.draft.siret),
    )
    .await?;
    let body = format!(
        "Bonjour {name},\n\n\
         Nous avons bien reçu la candidature corrigée de {org}. L'opérateur va l'examiner \
         de nouveau.\n\nPour la suivre : {url}\n\n{help}\n",
        name = checked.draft.contact_name,
        org = checked.draft.org_name,
        url = follow_url(config, token),
        help = help_line(config),
    );
    mail_contact(
        tx,
        &checked.draft.contact_email,
        "Pass numérique : votre candidature corrigée est bien reçue",
        body,
        now,
    )
    .await?;
    find(tx, &app.id)
        .await?
        .ok_or_else(|| Error::not_found("Cette candidature n'existe pas."))
}

async fn open_application(conn: &mut Conn, id: &str) -> Result<Application> {
    let app = find(conn, id)
        .await?
        .ok_or_else(|| Error::not_found("Cette candidature n'existe pas."))?;
    if !app.status.is_open() {
        return Err(Error::conflict(
            "already_decided",
            format!(
                "Cette candidature n'attend pas de décision (état : {}).",
                app.status.label().to_lowercase()
            ),
        ));
    }
    Ok(app)
}

fn operator_text(text: &str, what: &'static str) -> Result<String> {
    let text = text.trim();
    if text.is_empty() || text.chars().count() > 2000 {
        return Err(Error::invalid("missing_message", what));
    }
    Ok(text.to_string())
}

/// The operator starts examining an application (the applicant sees it on its page).
pub async fn start_review(tx: &mut Tx<'_>, actor_id: &str, id: &str, now: Timestamp) -> Result<()> {
    let app = open_application(tx, id).await?;
    if app.status == Status::UnderReview {
        return Ok(());
    }
    let at = format_ts(now);
    repo::set_status(tx, id, Status::UnderReview, None, &at).await?;
    crate::audit::record(
        tx,
        &at,
        Some(actor_id),
        "application.under_review",
        Some(id),
        "",
    )
    .await
}

/// The operator sends the application back with what to change; the applicant is e-mailed.
pub async fn request_changes(
    tx: &mut Tx<'_>,
    config: &Config,
    actor_id: &str,
    id: &str,
    message: &str,
    now: Timestamp,
) -> Result<()> {
    let message = operator_text(
        message,
        "Écrivez ce que la structure doit changer (2 000 caractères au plus) : elle le lira tel quel.",
    )?;
    let app = open_application(tx, id).await?;
    let at = format_ts(now);
    repo::set_status(tx, id, Status::ChangesRequested, Some(&message), &at).await?;
    crate::audit::record(
        tx,
        &at,
        Some(actor_id),
        "application.changes_requested",
        Some(id),
        &message,
    )
    .await?;
    let body = format!(
        "Bonjour {name},\n\n\
         L'opérateur du Pass numérique a examiné la candidature de {org} et vous demande des \
         modifications :\n\n{message}\n\n\
         Corrigez-la et renvoyez-la depuis votre page de suivi, avec le lien reçu lors de \
         votre candidature.\n\n{help}\n",
        name = app.contact_name,
        org = app.org_name,
        help = help_line(config),
    );
    mail_contact(
        tx,
        &app.contact_email,
        "Pass numérique : des modifications sont demandées sur votre candidature",
        body,
        now,
    )
    .await
}

/// The operator refuses an application, with the reason the applicant reads.
pub async fn reject(
    tx: &mut Tx<'_>,
    config: &Config,
    actor_id: &str,
    id: &str,
    reason: &str,
    now: Timestamp,
) -> Result<()> {
    let reason = operator_text(
        reason,
        "Indiquez le motif du refus (2 000 caractères au plus) : la structure le lira tel quel.",
    )?;
    let app = open_application(tx, id).await?;
    let at = format_ts(now);
    repo::set_status(tx, id, Status::Rejected, Some(&reason), &at).await?;
    crate::audit::record(
        tx,
        &at,
        Some(actor_id),
        "application.rejected",
        Some(id),
        &reason,
    )
    .await?;
    let body = format!(
        "Bonjour {name},\n\n\
         L'opérateur du Pass numérique a examiné la candidature de {org} et ne peut pas \
         l'accepter.\n\nMotif : {reason}\n\n{help}\n",
        name = app.contact_name,
        org = app.org_name,
        help = help_line(config),
    );
    mail_contact(
        tx,
        &app.contact_email,
        "Pass numérique : votre candidature n'est pas acceptée",
        body,
        now,
    )
    .await
}

/// Qualifies an application until `until`: creates the site organisation, its places, its bank
/// account and an administrator account for the contact (invited by e-mail), all in the
/// caller's transaction. Returns the new site.
pub async fn qualify(
    tx: &mut Tx<'_>,
    config: &Config,
    actor: &Organization,
    id: &str,
    until: &str,
    today: Date,
    now: Timestamp,
) -> Result<Organization> {
    actor.require(OrgKind::Operator)?;
    let until = until.trim().parse::<Date>().map_err(|_| {
        Error::invalid(
            "invalid_date",
            "Indiquez la date de fin de qualification au format AAAA-MM-JJ.",
        )
    })?;
    if until <= today {
        return Err(Error::invalid(
            "invalid_date",
            "La date de fin de qualification doit être après aujourd'hui.",
        ));
    }
    let app = open_application(tx, id).await?;
    // A structure already registered renews on its own page: a second organisation would split
    // its places, payments and people.
    if let Some(existing) = crate::orgs::find_site_by_siret(tx, &app.siret).await? {
        return Err(Error::conflict(
            "siret_taken",
            format!(
                "Une structure avec ce SIRET est déjà inscrite ({}) : renouvelez ou changez sa qualification depuis sa fiche, puis refusez cette candidature en l'expliquant.",
                existing.name
            ),
        ));
    }
    let first = app
        .places
        .first()
        .ok_or_else(|| Error::Internal(anyhow::anyhow!("application {id} has no place")))?;
    let site = crate::orgs::create_without_place(
        tx,
        Some(&actor.id),
        NewOrganization {
            kind: "site".into(),
            name: app.org_name.clone(),
            siret: Some(app.siret.clone()),
            department: crate::fr::department_of_postcode(&first.postcode),
            postcode: Some(first.postcode.clone()),
        },
        now,
    )
    .await?;
    for place in &app.places {
        crate::places::create_for_application(
            tx,
            &site,
            &place.name,
            &place.address,
            &place.postcode,
            &place.commune,
            now,
        )
        .await?;
    }
    let site = crate::qualification::set_site(
        tx,
        &actor.id,
        &site.id,
        crate::qualification::Status::Qualified,
        Some(until.to_string()),
        now,
    )
    .await?;
    crate::sites::set_bank_account(
        tx,
        actor,
        &site.id,
        crate::sites::NewBankAccount {
            iban: app.iban.clone(),
            bic: None,
            holder: app.holder.clone(),
        },
        now,
    )
    .await?;
    let (user, token) = crate::users::open_account(
        tx,
        &site.id,
        &app.contact_email,
        &app.contact_name,
        Role::Admin,
        now,
    )
    .await?;
    let at = format_ts(now);
    crate::audit::record(
        tx,
        &at,
        Some(&actor.id),
        "user.invited",
        Some(&site.id),
        &format!(
            "{} <{}> (admin), contact de la candidature",
            user.name, user.email
        ),
    )
    .await?;
    repo::set_qualified(tx, id, &site.id, &until.to_string(), &at).await?;
    crate::audit::record(
        tx,
        &at,
        Some(&actor.id),
        "application.qualified",
        Some(id),
        &format!("site {} qualifié jusqu'au {until}", site.id),
    )
    .await?;
    let url = config.public_url.trim_end_matches('/');
    let body = format!(
        "Bonjour {name},\n\n\
         Bonne nouvelle : la candidature de {org} est acceptée. Vos lieux sont qualifiés pour \
         le Pass numérique jusqu'au {end} et peuvent encaisser des chèques.\n\n\
         Votre accès à l'espace professionnel est ouvert. Pour choisir votre mot de passe, \
         ouvrez ce lien. Il ne sert qu'une fois et n'est valable que 7 jours :\n\
         {url}/invitation/{token}\n\n\
         Ensuite, connectez-vous sur {url}/connexion avec votre adresse e-mail ({email}).\n\n{help}\n",
        name = app.contact_name,
        org = app.org_name,
        end = crate::fr::long_date(until),
        email = user.email,
        help = help_line(config),
    );
    mail_contact(
        tx,
        &user.email,
        "Pass numérique : votre candidature est acceptée",
        body,
        now,
    )
    .await?;
    Ok(site)
}

// ---------------------------------------------------------------- questionnaire

/// The questions, in order; only the active ones if `active_only`.
pub async fn questions(conn: &mut Conn, active_only: bool) -> Result<Vec<Question>> {
    repo::questions(conn, active_only).await
}

fn question_text(text: &str) -> Result<String> {
    required(
        text,
        300,
        "invalid_question",
        "Écrivez la question (300 caractères au plus), à laquelle on répond par oui ou par non.",
    )
}

/// Adds a question at the end of the questionnaire (audited).
pub async fn add_question(
    tx: &mut Tx<'_>,
    actor_id: &str,
    text: &str,
    now: Timestamp,
) -> Result<()> {
    let text = question_text(text)?;
    let id = crate::db::new_id();
    let at = format_ts(now);
    repo::insert_question(tx, &id, &text, &at).await?;
    crate::audit::record(tx, &at, Some(actor_id), "question.added", Some(&id), &text).await
}

/// Rewords a question or (de)activates it; applications keep the text they answered (audited).
pub async fn update_question(
    tx: &mut Tx<'_>,
    actor_id: &str,
    id: &str,
    text: &str,
    active: bool,
    now: Timestamp,
) -> Result<()> {
    let text = question_text(text)?;
    let at = format_ts(now);
    if !repo::update_question(tx, id, &text, active, &at).await? {
        return Err(Error::not_found("Cette question n'existe pas."));
    }
    let detail = format!("{}{text}", if active { "" } else { "(désactivée) " });
    crate::audit::record(
        tx,
        &at,
        Some(actor_id),
        "question.changed",
        Some(id),
        &detail,
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid() -> Draft {
        Draft {
            org_name: "Association Clic".into(),
            siret: "732 829 320 00074".into(),
            places: vec![PlaceDraft {
                name: "Médiathèque".into(),
                address: "1 rue de la Paix".into(),
                postcode: "33000".into(),
                commune: "Bordeaux".into(),
            }],
            contact_name: "Léa Dupont".into(),
            contact_email: "Lea@Clic.example".into(),
            contact_phone: "05 56 00 00 00".into(),
            legal_name: "Marc Durand".into(),
            legal_role: "Président".into(),
            iban: "FR14 2004 1010 0505 0001 3M02 606".into(),
            holder: "Association Clic".into(),
            answers: vec![("q".into(), "oui".into())],
            charter: true,
        }
    }

    fn questions() -> Vec<Question> {
        vec![Question {
            id: "q".into(),
            position: 1,
            text: "Question ?".into(),
            active: true,
        }]
    }

    #[test]
    fn checks_and_normalises() {
        let checked = check(&valid(), &questions()).expect("valid");
        assert_eq!(checked.draft.siret, "73282932000074");
        assert_eq!(checked.draft.contact_email, "lea@clic.example");
        assert_eq!(checked.answers.len(), 1);
        let code = |d: Draft| match check(&d, &questions()) {
            Err(Error::Unprocessable { code, .. }) => code,
            _ => "ok",
        };
        let mut d = valid();
        d.siret = "73282932000075".into();
        assert_eq!(code(d), "invalid_siret");
        let mut d = valid();
        d.places = vec![PlaceDraft::default()];
        assert_eq!(code(d), "missing_place");
        let mut d = valid();
        d.answers.clear();
        assert_eq!(code(d), "missing_answer");
        let mut d = valid();
        d.charter = false;
        assert_eq!(code(d), "charter_not_accepted");
    }
}
