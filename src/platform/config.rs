//! The one configuration loader: command-line flags, else environment variables, else defaults
//! that make the embedded set-up work with nothing configured.

use clap::Args;
use std::path::PathBuf;

/// Defaults that stand in for a real value: fine on a laptop, wrong in production (see
/// [`Config::placeholders`]).
const EXAMPLE_PAYER_NAME: &str = "Operateur du Pass numerique";
const EXAMPLE_PAYER_IBAN: &str = "FR7630006000011234567890189";
const EXAMPLE_HELPLINE_PHONE: &str = "01 00 00 00 00";
const EXAMPLE_HELPLINE_EMAIL: &str = "aide@passnum.example";
const EXAMPLE_PUBLIC_URL: &str = "http://127.0.0.1:8080";
const EXAMPLE_PUBLISHER: &str =
    "Opérateur du Pass numérique (exemple), 1 rue de l'Exemple, 00000 Exempleville";
const EXAMPLE_PUBLICATION_DIRECTOR: &str = "Nom et fonction de la personne responsable (exemple)";
const EXAMPLE_HOST: &str = "Hébergeur (exemple), 1 rue de l'Exemple, 00000 Exempleville";

#[derive(Args, Clone, Debug)]
pub struct Config {
    /// `sqlite://path/to/file.db` (created if missing) or `postgres://user@host/db`.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite://passnum.db",
        global = true
    )]
    pub database_url: String,

    /// Largest number of database connections (readers on SQLite; all on PostgreSQL).
    #[arg(
        long,
        env = "PASSNUM_DB_CONNECTIONS",
        default_value_t = 8,
        global = true
    )]
    pub db_connections: u32,

    /// Longest wait for a database connection before answering 503: when the database is
    /// down, requests fail fast instead of piling up.
    #[arg(
        long,
        env = "PASSNUM_DB_ACQUIRE_TIMEOUT_SECS",
        default_value_t = 3,
        global = true
    )]
    pub db_acquire_timeout_secs: u64,

    /// Signing keys file, created with one key on first start if missing.
    #[arg(
        long,
        env = "PASSNUM_KEYS_FILE",
        default_value = "passnum.keys",
        global = true
    )]
    pub keys_file: PathBuf,

    /// Signing keys given inline instead of a file: `KEYID:base64,KEYID:base64`, newest last.
    #[arg(
        long,
        env = "PASSNUM_SIGNING_KEYS",
        hide_env_values = true,
        global = true
    )]
    pub signing_keys: Option<String>,

    /// How long a site may undo its own redemption.
    #[arg(
        long,
        env = "PASSNUM_UNDO_WINDOW_HOURS",
        default_value_t = 48,
        global = true
    )]
    pub undo_window_hours: i64,

    /// Invalid codes accepted from one site or one address per window before answering 429.
    #[arg(
        long,
        env = "PASSNUM_INVALID_CODE_LIMIT",
        default_value_t = 20,
        global = true
    )]
    pub invalid_code_limit: u32,

    /// E-mails that an anonymous form (an application, a password reset) may have sent per
    /// window, from one address and to one recipient.
    #[arg(
        long,
        env = "PASSNUM_MAIL_FORM_LIMIT",
        default_value_t = 3,
        global = true
    )]
    pub mail_form_limit: u32,

    /// Failed public look-ups (codes that do not exist or fail their check) accepted from one
    /// address, and for one code prefix, per window; a real carnet's look-up never counts.
    #[arg(
        long,
        env = "PASSNUM_PUBLIC_LOOKUP_LIMIT",
        default_value_t = 30,
        global = true
    )]
    pub public_lookup_limit: u32,

    /// How old a session recorded offline may be when its device syncs, in days: older ones
    /// are refused (the record says so), newer ones are redeemed with the session's time.
    #[arg(
        long,
        env = "PASSNUM_OFFLINE_BOUND_DAYS",
        default_value_t = 7,
        global = true
    )]
    pub offline_bound_days: i64,

    /// Cheques a site's console may record offline before it must sync, unless the operator
    /// sets another allowance for the site or the device.
    #[arg(
        long,
        env = "PASSNUM_OFFLINE_MAX_CHEQUES",
        default_value_t = 50,
        global = true
    )]
    pub offline_max_cheques: i64,

    /// Days a site's console may stay offline before it must sync, unless the operator sets
    /// another allowance (never more than `offline_bound_days`).
    #[arg(
        long,
        env = "PASSNUM_OFFLINE_MAX_DAYS",
        default_value_t = 3,
        global = true
    )]
    pub offline_max_days: i64,

    /// Failed logins accepted from one address, or for one account, per window.
    #[arg(
        long,
        env = "PASSNUM_LOGIN_ATTEMPT_LIMIT",
        default_value_t = 10,
        global = true
    )]
    pub login_attempt_limit: u32,

    /// Connections served at once at most; the next ones get a 503 at once. 0: half the
    /// process's open-file limit (at most 4,096), so that idle or slow clients can never use up
    /// the server's file descriptors.
    #[arg(
        long,
        env = "PASSNUM_MAX_CONNECTIONS",
        default_value_t = 0,
        global = true
    )]
    pub max_connections: usize,

    /// An API token unused for this many days stops working (0: never).
    #[arg(
        long,
        env = "PASSNUM_TOKEN_IDLE_DAYS",
        default_value_t = 180,
        global = true
    )]
    pub token_idle_days: i64,

    /// A page session (professional spaces) unused for this many minutes ends, whatever its
    /// absolute lifetime (0: never).
    #[arg(
        long,
        env = "PASSNUM_SESSION_IDLE_MINUTES",
        default_value_t = 120,
        global = true
    )]
    pub session_idle_minutes: i64,

    /// Length of a rate-limit window, in seconds.
    #[arg(
        long,
        env = "PASSNUM_RATE_WINDOW_SECS",
        default_value_t = 600,
        global = true
    )]
    pub rate_window_secs: u64,

    /// Name of the account that pays the sites (debtor of the SEPA payment files).
    #[arg(
        long,
        env = "PASSNUM_PAYER_NAME",
        default_value = EXAMPLE_PAYER_NAME,
        global = true
    )]
    pub payer_name: String,

    /// IBAN of the account that pays the sites: the funders' money is held there.
    #[arg(
        long,
        env = "PASSNUM_PAYER_IBAN",
        default_value = EXAMPLE_PAYER_IBAN,
        global = true
    )]
    pub payer_iban: String,

    /// BIC of that account, if the bank needs it.
    #[arg(long, env = "PASSNUM_PAYER_BIC", global = true)]
    pub payer_bic: Option<String>,

    /// Telephone number shown to beneficiaries.
    #[arg(
        long,
        env = "PASSNUM_HELPLINE_PHONE",
        default_value = EXAMPLE_HELPLINE_PHONE,
        global = true
    )]
    pub helpline_phone: String,

    /// E-mail address shown to beneficiaries beside the phone number.
    #[arg(
        long,
        env = "PASSNUM_HELPLINE_EMAIL",
        default_value = EXAMPLE_HELPLINE_EMAIL,
        global = true
    )]
    pub helpline_email: String,

    /// The address people reach the platform at, for links in e-mails and on carnets.
    #[arg(
        long,
        env = "PASSNUM_PUBLIC_URL",
        default_value = EXAMPLE_PUBLIC_URL,
        global = true
    )]
    pub public_url: String,

    /// Who publishes the platform, for the legal notice (`/mentions-legales`): name or
    /// company name, address, SIRET, phone.
    #[arg(
        long,
        env = "PASSNUM_PUBLISHER",
        default_value = EXAMPLE_PUBLISHER,
        global = true
    )]
    pub publisher: String,

    /// The publication director named by the legal notice: name and function.
    #[arg(
        long,
        env = "PASSNUM_PUBLICATION_DIRECTOR",
        default_value = EXAMPLE_PUBLICATION_DIRECTOR,
        global = true
    )]
    pub publication_director: String,

    /// Who hosts the servers, for the legal notice: company name, address, phone.
    #[arg(
        long,
        env = "PASSNUM_HOSTING_PROVIDER",
        default_value = EXAMPLE_HOST,
        global = true
    )]
    pub hosting_provider: String,

    /// SMTP server for outgoing e-mail: `smtp://host:port` (plain), `smtps://…` or
    /// `smtp://…?tls=required` (STARTTLS), with `user:password@` if needed. Unset: e-mails wait
    /// in the outbox.
    #[arg(long, env = "PASSNUM_SMTP_URL", hide_env_values = true, global = true)]
    pub smtp_url: Option<String>,

    /// Sender of outgoing e-mail.
    #[arg(
        long,
        env = "PASSNUM_MAIL_FROM",
        default_value = "Pass numérique <ne-pas-repondre@passnum.example>",
        global = true
    )]
    pub mail_from: String,

    /// Token the Prometheus scraper sends (`Authorization: Bearer …`) to read `/metrics`.
    /// Unset: `/metrics` answers 404.
    #[arg(
        long,
        env = "PASSNUM_METRICS_TOKEN",
        hide_env_values = true,
        global = true
    )]
    pub metrics_token: Option<String>,

    /// Reverse proxies whose `X-Forwarded-For` is believed, as addresses or networks
    /// (`127.0.0.1,10.0.0.0/8`). Unset: the TCP peer is the client, and the header is ignored
    /// so nobody can pose as another address.
    #[arg(
        long,
        env = "PASSNUM_TRUSTED_PROXIES",
        value_delimiter = ',',
        value_parser = parse_proxy,
        global = true
    )]
    pub trusted_proxies: Vec<ipnet::IpNet>,

    /// Log lines for people (`text`) or one JSON object per line for a log collector (`json`,
    /// with the request id of the line's request).
    #[arg(
        long,
        env = "PASSNUM_LOG_FORMAT",
        value_enum,
        default_value_t = LogFormat::Text,
        global = true
    )]
    pub log_format: LogFormat,

    /// Day of the month (1 to 28) the server prepares the draft settlement batch of the month
    /// before and e-mails the operator; 0: never (batches are made by hand).
    #[arg(
        long,
        env = "PASSNUM_SETTLEMENT_DAY",
        default_value_t = 5,
        value_parser = clap::value_parser!(u8).range(0..=28),
        global = true
    )]
    pub settlement_day: u8,

    /// ProConnect (the State's OpenID Connect federation for public agents): the provider's
    /// issuer URL (`https://auth.agentconnect.gouv.fr/api/v2`), discovered at each login so
    /// that its signing keys are always the current ones. Unset: no ProConnect button.
    #[arg(long, env = "PASSNUM_PROCONNECT_ISSUER", global = true)]
    pub proconnect_issuer: Option<String>,

    /// This platform's client id at ProConnect.
    #[arg(long, env = "PASSNUM_PROCONNECT_CLIENT_ID", global = true)]
    pub proconnect_client_id: Option<String>,

    /// This platform's client secret at ProConnect.
    #[arg(
        long,
        env = "PASSNUM_PROCONNECT_CLIENT_SECRET",
        hide_env_values = true,
        global = true
    )]
    pub proconnect_client_secret: Option<String>,

    /// How long personal data is kept (`PASSNUM_RETENTION_*`).
    #[command(flatten)]
    pub retention: Retention,

    /// When the alerts against gaming fire (`PASSNUM_ALERT_*`).
    #[command(flatten)]
    pub alerts: Alerts,

    /// Set by `passnum demo` only: the example payer account may pay (its files reach no bank).
    #[arg(skip)]
    pub demo: bool,
}

/// How long personal data is kept before the daily job (`crate::retention`) erases or reduces
/// it; the personal-data page shows these values.
#[derive(Args, Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retention {
    /// Days a beneficiary's e-mail is kept after their carnet ends (every cheque used,
    /// cancelled or expired, or the carnet cancelled).
    #[arg(
        long = "retention-email-days",
        env = "PASSNUM_RETENTION_EMAIL_DAYS",
        default_value_t = 30,
        value_parser = clap::value_parser!(u32).range(1..),
        global = true
    )]
    pub email_days: u32,

    /// Days client addresses (IP) are kept whole, in the audit journal and the attempt
    /// counters; then only their network (IPv4 /24, IPv6 /48) is kept.
    #[arg(
        long = "retention-address-days",
        env = "PASSNUM_RETENTION_ADDRESS_DAYS",
        default_value_t = 30,
        value_parser = clap::value_parser!(u32).range(1..),
        global = true
    )]
    pub address_days: u32,

    /// Months feedback comments are kept (ratings are kept).
    #[arg(
        long = "retention-comment-months",
        env = "PASSNUM_RETENTION_COMMENT_MONTHS",
        default_value_t = 12,
        value_parser = clap::value_parser!(u32).range(1..),
        global = true
    )]
    pub comment_months: u32,

    /// Months without a login after which an account is deactivated (its sessions end).
    #[arg(
        long = "retention-idle-account-months",
        env = "PASSNUM_RETENTION_IDLE_ACCOUNT_MONTHS",
        default_value_t = 12,
        value_parser = clap::value_parser!(u32).range(1..),
        global = true
    )]
    pub idle_account_months: u32,

    /// Months after its deactivation that an account's personal data is erased.
    #[arg(
        long = "retention-deactivated-account-months",
        env = "PASSNUM_RETENTION_DEACTIVATED_ACCOUNT_MONTHS",
        default_value_t = 12,
        value_parser = clap::value_parser!(u32).range(1..),
        global = true
    )]
    pub deactivated_account_months: u32,

    /// Days a sent e-mail (address, subject, body, attachments) is kept in the outbox; also one
    /// given up after repeated failures.
    #[arg(
        long = "retention-sent-mail-days",
        env = "PASSNUM_RETENTION_SENT_MAIL_DAYS",
        default_value_t = 30,
        value_parser = clap::value_parser!(u32).range(1..),
        global = true
    )]
    pub sent_mail_days: u32,

    /// Days a ProConnect agent's request to join an organisation (name, e-mail) is kept after
    /// its decision, or after it was made if nobody decided.
    #[arg(
        long = "retention-request-days",
        env = "PASSNUM_RETENTION_REQUEST_DAYS",
        default_value_t = 30,
        value_parser = clap::value_parser!(u32).range(1..),
        global = true
    )]
    pub request_days: u32,
}

/// The thresholds of the alerts against gaming that compare with a rate (`crate::alerts`,
/// `PASSNUM_ALERT_*`).
#[derive(Args, Clone, Copy, Debug, PartialEq)]
pub struct Alerts {
    /// Share (%) of a distributor's started carnets used at one site above which it is flagged.
    #[arg(
        long = "alert-distributor-share-percent",
        env = "PASSNUM_ALERT_DISTRIBUTOR_SHARE_PERCENT",
        default_value_t = 50,
        value_parser = clap::value_parser!(u32).range(1..=100),
        global = true
    )]
    pub distributor_share_percent: u32,

    /// Started carnets a distributor must have before its share at one site means anything.
    #[arg(
        long = "alert-distributor-min-carnets",
        env = "PASSNUM_ALERT_DISTRIBUTOR_MIN_CARNETS",
        default_value_t = 20,
        value_parser = clap::value_parser!(u32).range(1..),
        global = true
    )]
    pub distributor_min_carnets: u32,

    /// How many times its usual weekly rate a site must use in a week to be flagged.
    #[arg(
        long = "alert-rate-factor",
        env = "PASSNUM_ALERT_RATE_FACTOR",
        default_value_t = 3,
        value_parser = clap::value_parser!(u32).range(2..),
        global = true
    )]
    pub rate_factor: u32,

    /// Cheques a site must use in a week before a rise is worth a look.
    #[arg(
        long = "alert-rate-min-cheques",
        env = "PASSNUM_ALERT_RATE_MIN_CHEQUES",
        default_value_t = 30,
        value_parser = clap::value_parser!(u32).range(1..),
        global = true
    )]
    pub rate_min_cheques: u32,
}

impl Default for Alerts {
    fn default() -> Self {
        Alerts {
            distributor_share_percent: 50,
            distributor_min_carnets: 20,
            rate_factor: 3,
            rate_min_cheques: 30,
        }
    }
}

/// A setting still at its example value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Placeholder {
    /// The environment variable that sets it.
    pub setting: &'static str,
    /// What goes wrong while it is left so.
    pub consequence: &'static str,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// An address (`10.0.0.1`) or a network (`10.0.0.0/8`).
fn parse_proxy(text: &str) -> Result<ipnet::IpNet, String> {
    let text = text.trim();
    text.parse::<ipnet::IpNet>()
        .or_else(|_| text.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
        .map_err(|_| format!("« {text} » n'est ni une adresse IP ni un réseau (10.0.0.0/8)"))
}

impl Config {
    /// The settings still at their example value, which a production server must replace.
    pub fn placeholders(&self) -> Vec<Placeholder> {
        let same = |a: &str, b: &str| a.replace(' ', "").eq_ignore_ascii_case(&b.replace(' ', ""));
        [
            (
                same(&self.payer_iban, EXAMPLE_PAYER_IBAN),
                "PASSNUM_PAYER_IBAN",
                "the SEPA files would pay from an example account: exporting them is refused",
            ),
            (
                self.payer_name == EXAMPLE_PAYER_NAME,
                "PASSNUM_PAYER_NAME",
                "the SEPA files name an example payer",
            ),
            (
                same(&self.helpline_phone, EXAMPLE_HELPLINE_PHONE),
                "PASSNUM_HELPLINE_PHONE",
                "beneficiaries are given an example phone number",
            ),
            (
                self.helpline_email == EXAMPLE_HELPLINE_EMAIL,
                "PASSNUM_HELPLINE_EMAIL",
                "beneficiaries are given an example e-mail address",
            ),
            (
                self.public_url == EXAMPLE_PUBLIC_URL,
                "PASSNUM_PUBLIC_URL",
                "links in e-mails and on carnets point at this machine",
            ),
            (
                self.publisher == EXAMPLE_PUBLISHER,
                "PASSNUM_PUBLISHER",
                "the legal notice names an example publisher",
            ),
            (
                self.publication_director == EXAMPLE_PUBLICATION_DIRECTOR,
                "PASSNUM_PUBLICATION_DIRECTOR",
                "the legal notice names no publication director",
            ),
            (
                self.hosting_provider == EXAMPLE_HOST,
                "PASSNUM_HOSTING_PROVIDER",
                "the legal notice names an example host",
            ),
            (
                self.smtp_url.is_none(),
                "PASSNUM_SMTP_URL",
                "e-mails wait in the outbox and are never sent",
            ),
        ]
        .into_iter()
        .filter(|(placeholder, _, _)| *placeholder)
        .map(|(_, setting, consequence)| Placeholder {
            setting,
            consequence,
        })
        .collect()
    }

    /// Whether SEPA files may be produced with this payer account: a real one, or the example
    /// one in the demo.
    pub fn payer_is_example(&self) -> bool {
        self.placeholders()
            .iter()
            .any(|p| p.setting == "PASSNUM_PAYER_IBAN")
    }

    /// The defaults, as a binary started with no flags and no environment would have them.
    pub fn defaults() -> Self {
        #[derive(clap::Parser)]
        struct Only {
            #[command(flatten)]
            config: Config,
        }
        let only: Only = clap::Parser::parse_from(["passnum"]);
        only.config
    }
}
