//! The domain error: every refusal has a stable snake_case code and a sentence in plain French.
//! It is turned into an HTTP answer in one place, `http::error`.

use std::borrow::Cow;

pub type Result<T, E = Error> = std::result::Result<T, E>;

type Msg = Cow<'static, str>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request itself is malformed (unreadable JSON, wrong types): 400.
    #[error("{message}")]
    BadRequest { code: &'static str, message: Msg },
    /// Missing or unknown credentials: 401.
    #[error("Identifiant de connexion absent ou invalide.")]
    Unauthenticated,
    /// Authenticated but not allowed: 403.
    #[error("{message}")]
    Forbidden { code: &'static str, message: Msg },
    /// Unknown, or belongs to someone else (never tell which): 404.
    #[error("{0}")]
    NotFound(Msg),
    /// The state forbids it (already redeemed, window closed…): 409.
    #[error("{message}")]
    Conflict { code: &'static str, message: Msg },
    /// The thing existed but is no longer usable (expired, cancelled): 410.
    #[error("{message}")]
    Gone { code: &'static str, message: Msg },
    /// Well-formed but refused by a business rule or validation: 422.
    #[error("{message}")]
    Unprocessable { code: &'static str, message: Msg },
    /// Several fields of one form refused at once, each with its reason: 422, so that a form
    /// shows every mistake in one round trip.
    #[error("{0}")]
    Fields(FieldErrors),
    /// The body is larger than the API accepts: 413.
    #[error("Le corps de la requête est trop volumineux ({limit_kib} Kio au plus).")]
    TooLarge { limit_kib: usize },
    /// Too many attempts: 429 with Retry-After.
    #[error("Trop de tentatives. Réessayez dans {retry_after_secs} secondes.")]
    RateLimited { retry_after_secs: u64 },
    /// The database cannot be reached: 503.
    #[error("Le service est momentanément indisponible. Réessayez dans un instant.")]
    Unavailable(#[source] sqlx::Error),
    /// A bug or an unexpected failure: 500, details logged and never shown.
    #[error("internal error: {0}")]
    Internal(#[from] anyhow::Error),
    /// The address exists but not with this method: 405.
    #[error("Cette adresse n'accepte pas cette méthode HTTP.")]
    MethodNotAllowed,
    /// The body is not JSON (`Content-Type` other than `application/json`): 415.
    #[error("Le corps de la requête doit être du JSON (Content-Type: application/json).")]
    UnsupportedMediaType,
}

/// One field refused, and why.
#[derive(Clone, Debug)]
pub struct FieldError {
    /// The field as the API names it: `siret`, `places[0].postcode`, `answers.{question id}`.
    pub field: String,
    pub code: &'static str,
    pub message: Msg,
}

/// Every field refused by one check, in the order of the form.
#[derive(Clone, Debug, Default)]
pub struct FieldErrors(Vec<FieldError>);

impl FieldErrors {
    pub fn push(&mut self, field: impl Into<String>, code: &'static str, message: impl Into<Msg>) {
        self.0.push(FieldError {
            field: field.into(),
            code,
            message: message.into(),
        });
    }

    /// The value, or `None` with the refusal noted under `field` when it is a validation
    /// error (422); any other error goes up.
    pub fn take<T>(&mut self, field: &str, checked: Result<T>) -> Result<Option<T>> {
        match checked {
            Ok(value) => Ok(Some(value)),
            Err(Error::Unprocessable { code, message }) => {
                self.push(field, code, message);
                Ok(None)
            }
            Err(Error::Fields(more)) => {
                self.0.extend(more.0);
                Ok(None)
            }
            Err(other) => Err(other),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &FieldError> {
        self.0.iter()
    }

    /// `Ok` when nothing was refused.
    pub fn into_result(self) -> Result<()> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(Error::Fields(self))
        }
    }
}

impl std::fmt::Display for FieldErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let messages: Vec<&str> = self.0.iter().map(|e| e.message.as_ref()).collect();
        f.write_str(&messages.join(" "))
    }
}

impl Error {
    pub fn invalid(code: &'static str, message: impl Into<Msg>) -> Self {
        Error::Unprocessable {
            code,
            message: message.into(),
        }
    }

    pub fn conflict(code: &'static str, message: impl Into<Msg>) -> Self {
        Error::Conflict {
            code,
            message: message.into(),
        }
    }

    pub fn gone(code: &'static str, message: impl Into<Msg>) -> Self {
        Error::Gone {
            code,
            message: message.into(),
        }
    }

    pub fn forbidden(code: &'static str, message: impl Into<Msg>) -> Self {
        Error::Forbidden {
            code,
            message: message.into(),
        }
    }

    pub fn not_found(message: impl Into<Msg>) -> Self {
        Error::NotFound(message.into())
    }

    pub fn bad_request(code: &'static str, message: impl Into<Msg>) -> Self {
        Error::BadRequest {
            code,
            message: message.into(),
        }
    }

    /// The same refusal, its message starting with `prefix` (e.g. which line of a batch).
    pub fn prefixed(self, prefix: &str) -> Self {
        let with = |message: Msg| Msg::Owned(format!("{prefix}{message}"));
        match self {
            Error::Unprocessable { code, message } => Error::Unprocessable {
                code,
                message: with(message),
            },
            Error::BadRequest { code, message } => Error::BadRequest {
                code,
                message: with(message),
            },
            Error::Conflict { code, message } => Error::Conflict {
                code,
                message: with(message),
            },
            Error::Gone { code, message } => Error::Gone {
                code,
                message: with(message),
            },
            other => other,
        }
    }

    /// Whether a database statement broke a UNIQUE constraint.
    pub fn is_unique_violation(&self) -> bool {
        match self {
            Error::Internal(e) => e
                .downcast_ref::<sqlx::Error>()
                .is_some_and(is_unique_violation),
            _ => false,
        }
    }

    /// Only this kind of organisation may do that.
    pub fn wrong_role() -> Self {
        Error::forbidden(
            "forbidden",
            "Votre organisation n'a pas le droit de faire cette opération.",
        )
    }
}

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::WorkerCrashed => Error::Unavailable(e),
            sqlx::Error::Database(ref db) if is_unavailable_code(db.code().as_deref()) => {
                Error::Unavailable(e)
            }
            other => Error::Internal(other.into()),
        }
    }
}

/// Database states that mean "try again later", not "your request is wrong".
fn is_unavailable_code(code: Option<&str>) -> bool {
    matches!(
        code,
        // PostgreSQL: admin shutdown, cannot connect now, too many connections.
        Some("57P01" | "57P02" | "57P03" | "53300" | "08006" | "08001" | "08004")
        // SQLite: SQLITE_BUSY, SQLITE_LOCKED.
        | Some("5" | "6")
    )
}

/// Whether a failed statement broke a UNIQUE constraint, so callers can turn it into a 409.
pub fn is_unique_violation(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(db) => {
            matches!(db.kind(), sqlx::error::ErrorKind::UniqueViolation)
                || matches!(db.code().as_deref(), Some("23505" | "2067" | "1555"))
        }
        _ => false,
    }
}
