//! The one place where a domain error becomes an HTTP answer:
//! `{"error": {"code": "...", "message": "..."}}`.

use crate::error::Error;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

impl Error {
    pub fn status(&self) -> StatusCode {
        match self {
            Error::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Error::Unauthenticated => StatusCode::UNAUTHORIZED,
            Error::Forbidden { .. } => StatusCode::FORBIDDEN,
            Error::NotFound(_) => StatusCode::NOT_FOUND,
            Error::Conflict { .. } => StatusCode::CONFLICT,
            Error::Gone { .. } => StatusCode::GONE,
            Error::Unprocessable { .. } | Error::Fields(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Error::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Error::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Error::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Error::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Error::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            Error::BadRequest { code, .. }
            | Error::Forbidden { code, .. }
            | Error::Conflict { code, .. }
            | Error::Gone { code, .. }
            | Error::Unprocessable { code, .. } => code,
            Error::Fields(_) => "invalid_fields",
            Error::Unauthenticated => "unauthenticated",
            Error::NotFound(_) => "not_found",
            Error::TooLarge { .. } => "body_too_large",
            Error::RateLimited { .. } => "too_many_requests",
            Error::Unavailable(_) => "unavailable",
            Error::Internal(_) => "internal_error",
            Error::MethodNotAllowed => "method_not_allowed",
            Error::UnsupportedMediaType => "unsupported_media_type",
        }
    }

    /// What the person is told. Internal details stay in the logs.
    pub fn public_message(&self) -> String {
        match self {
            Error::Internal(_) => {
                "Une erreur inattendue s'est produite. Elle a été enregistrée ; réessayez plus tard.".into()
            }
            other => other.to_string(),
        }
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        match &self {
            Error::Internal(e) => tracing::error!(error = ?e, "internal error"),
            Error::Unavailable(e) => tracing::warn!(error = %e, "database unavailable"),
            _ => {}
        }
        let body = super::openapi::ErrorBody {
            error: super::openapi::ErrorDetail {
                code: self.code().into(),
                message: self.public_message(),
                fields: match &self {
                    Error::Fields(fields) => fields
                        .iter()
                        .map(|f| super::openapi::FieldDetail {
                            field: f.field.clone(),
                            code: f.code.into(),
                            message: f.message.to_string(),
                        })
                        .collect(),
                    _ => Vec::new(),
                },
            },
        };
        let mut response = (self.status(), Json(body)).into_response();
        let headers = response.headers_mut();
        match &self {
            Error::RateLimited { retry_after_secs } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
            }
            Error::Unauthenticated => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            Error::Unavailable(_) => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
            }
            _ => {}
        }
        response
    }
}
