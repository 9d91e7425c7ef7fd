//! The JSON API described as OpenAPI 3.1, generated from the handlers' `#[utoipa::path]`
//! attributes and the types' `ToSchema` derives, so it cannot drift from the code. Served raw at
//! `/api/openapi.json` and as a plain server-rendered page at `/api/docs` (no script, no CDN).

use super::AppState;
use askama::Template;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use serde_json::Value;
use std::sync::OnceLock;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

/// Every refusal: `{"error": {"code": "snake_case_code", "message": "une phrase en français"}}`.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable, machine-readable: `invalid_code`, `already_redeemed`, `not_found`…
    pub code: String,
    /// For people, in plain French.
    pub message: String,
    /// With `invalid_fields`: every field refused, in the form's order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldDetail>,
}

/// One field refused: its name in the request, a code and a sentence.
#[derive(Serialize, ToSchema)]
pub struct FieldDetail {
    /// `siret`, `places[0].postcode`, `answers.{question id}`…
    pub field: String,
    pub code: String,
    pub message: String,
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "passnum",
        description = "API du Pass numérique : programmes, carnets de chèques, encaissements, \
                       règlements. Montants en centimes. Envoyez `Authorization: Bearer <jeton>`."
    ),
    paths(
        super::organizations::create,
        super::organizations::create_token,
        super::organizations::tokens,
        super::organizations::revoke_token,
        super::organizations::revoke_own_token,
        super::organizations::qualify,
        super::organizations::set_time_zone,
        super::bank::set_bank,
        super::bank::details,
        super::bank::upload_document,
        super::bank::pending,
        super::bank::document,
        super::bank::decide,
        super::treasury::import,
        super::treasury::statements,
        super::treasury::unmatched,
        super::treasury::match_entry,
        super::treasury::coverage,
        super::programs::create,
        super::programs::show,
        super::programs::fund,
        super::programs::allocate,
        super::programs::reconciliation,
        super::programs::breakdown,
        super::programs::close,
        super::programs::cancel_close,
        super::programs::credit_note,
        super::programs::set_time_zone,
        super::passes::issue,
        super::passes::issue_batch,
        super::passes::list,
        super::passes::show,
        super::passes::activate,
        super::passes::cancel,
        super::passes::erase_reference,
        super::redemptions::redeem,
        super::redemptions::list,
        super::redemptions::undo,
        super::redemptions::record_workshop,
        super::redemptions::workshop,
        super::offline::register,
        super::offline::devices,
        super::offline::device,
        super::offline::revoke,
        super::offline::revoke_delete,
        super::offline::sync,
        super::offline::conflicts,
        super::offline::set_allowance,
        super::public::balance,
        super::public::keys,
        super::public::revocations,
        super::applications::submit,
        super::places::search,
        super::places::export_csv,
        super::places::export_json,
        super::places::qualify,
        super::places::set_time_zone,
        super::catalogue::list,
        super::catalogue::create,
        super::catalogue::update,
        super::catalogue::withdraw,
        super::settlements::create,
        super::settlements::show,
        super::settlements::approve,
        super::settlements::export,
        super::settlements::paid,
        super::settlements::sepa,
        super::settlements::reject,
        super::settlements::release,
        super::settlements::statement,
        super::settlements::program_statement,
    ),
    components(schemas(ErrorBody, ErrorDetail, FieldDetail)),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

/// The document, built once.
pub fn document() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(|| serde_json::to_value(ApiDoc::openapi()).unwrap_or_default())
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/openapi.json", get(|| async { Json(document()) }))
        .route("/api/docs", get(docs))
}

#[derive(Template)]
#[template(path = "api_docs.html")]
struct DocsPage {
    title: String,
    description: String,
    operations: Vec<Operation>,
    schemas: Vec<(String, String)>,
}

struct Operation {
    anchor: String,
    method: String,
    path: String,
    summary: String,
    description: String,
    authenticated: bool,
    parameters: Vec<Parameter>,
    request: Option<String>,
    responses: Vec<(String, String, String)>,
}

struct Parameter {
    name: String,
    location: String,
    required: bool,
    description: String,
}

/// A schema as one line of text: a `$ref` by its name, anything else as compact JSON.
fn schema_text(content: &Value) -> String {
    let Some((media, body)) = content.as_object().and_then(|m| m.iter().next()) else {
        return String::new();
    };
    let schema = &body["schema"];
    let shown = match schema["$ref"].as_str() {
        Some(r) => r.rsplit('/').next().unwrap_or(r).to_string(),
        None => match schema["items"]["$ref"].as_str() {
            Some(r) => format!("[{}]", r.rsplit('/').next().unwrap_or(r)),
            None => schema.to_string(),
        },
    };
    format!("{media} : {shown}")
}

fn text(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

async fn docs() -> Response {
    let doc = document();
    let mut operations = Vec::new();
    if let Some(paths) = doc["paths"].as_object() {
        for (path, item) in paths {
            let Some(item) = item.as_object() else {
                continue;
            };
            for (method, op) in item {
                let parameters = op["parameters"]
                    .as_array()
                    .map(|ps| {
                        ps.iter()
                            .map(|p| Parameter {
                                name: text(&p["name"]),
                                location: text(&p["in"]),
                                required: p["required"].as_bool().unwrap_or(false),
                                description: text(&p["description"]),
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                let responses = op["responses"]
                    .as_object()
                    .map(|rs| {
                        rs.iter()
                            .map(|(status, r)| {
                                (
                                    status.clone(),
                                    text(&r["description"]),
                                    schema_text(&r["content"]),
                                )
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                operations.push(Operation {
                    anchor: text(&op["operationId"]),
                    method: method.to_uppercase(),
                    path: path.clone(),
                    summary: text(&op["summary"]),
                    description: text(&op["description"]),
                    authenticated: op["security"].as_array().is_some_and(|s| !s.is_empty()),
                    parameters,
                    request: op["requestBody"]
                        .get("content")
                        .map(schema_text)
                        .filter(|s| !s.is_empty()),
                    responses,
                });
            }
        }
    }
    let schemas = doc["components"]["schemas"]
        .as_object()
        .map(|s| {
            s.iter()
                .map(|(name, schema)| {
                    let pretty = serde_json::to_string_pretty(schema).unwrap_or_default();
                    (name.clone(), pretty)
                })
                .collect()
        })
        .unwrap_or_default();
    let page = DocsPage {
        title: text(&doc["info"]["title"]),
        description: text(&doc["info"]["description"]),
        operations,
        schemas,
    };
    match page.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => crate::error::Error::Internal(e.into()).into_response(),
    }
}
