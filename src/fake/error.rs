//! The Bot API's error answer, `{"ok":false,"error_code":..,"description":..,
//! "parameters":{..}}`, and the descriptions the fake uses in more than one place.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

/// 409 for a `getUpdates` superseded by a newer one for the same bot.
pub(super) const CONFLICT_OTHER_POLLER: &str = "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running";
/// 400 for any call naming a group that moved to a new id.
pub(super) const GROUP_MIGRATED: &str = "Bad Request: group chat was upgraded to a supergroup chat";

/// A Telegram-shaped error answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct ApiError {
    /// `error_code`, also the HTTP status.
    pub(super) code: u16,
    /// `description`.
    pub(super) description: String,
    /// `parameters.retry_after`.
    pub(super) retry_after: Option<u32>,
    /// `parameters.migrate_to_chat_id`.
    pub(super) migrate_to_chat_id: Option<i64>,
}

impl ApiError {
    pub(super) fn new(code: u16, description: &str) -> ApiError {
        ApiError {
            code,
            description: description.to_owned(),
            retry_after: None,
            migrate_to_chat_id: None,
        }
    }

    /// 400 `Bad Request: {what}`.
    pub(super) fn bad_request(what: &str) -> ApiError {
        ApiError::new(400, &format!("Bad Request: {what}"))
    }

    /// 403 `Forbidden: {what}`.
    pub(super) fn forbidden(what: &str) -> ApiError {
        ApiError::new(403, &format!("Forbidden: {what}"))
    }

    /// 401 for an unknown token.
    pub(super) fn unauthorized() -> ApiError {
        ApiError::new(401, "Unauthorized")
    }

    /// 404 for an unknown method or path.
    pub(super) fn not_found() -> ApiError {
        ApiError::new(404, "Not Found")
    }

    /// 429 `Too Many Requests: retry after {secs}` with `parameters.retry_after`.
    pub(super) fn too_many_requests(secs: u32) -> ApiError {
        ApiError {
            code: 429,
            description: format!("Too Many Requests: retry after {secs}"),
            retry_after: Some(secs),
            migrate_to_chat_id: None,
        }
    }

    /// 400 for a call naming a group that now lives at `new_id`.
    pub(super) fn migrated(new_id: i64) -> ApiError {
        ApiError {
            migrate_to_chat_id: Some(new_id),
            ..ApiError::new(400, GROUP_MIGRATED)
        }
    }

    pub(super) fn thread_not_found() -> ApiError {
        ApiError::bad_request("message thread not found")
    }

    pub(super) fn topic_not_modified() -> ApiError {
        ApiError::bad_request("TOPIC_NOT_MODIFIED")
    }

    /// The JSON body Telegram sends with this error.
    pub(super) fn body(&self) -> Value {
        let mut body = json!({
            "ok": false,
            "error_code": self.code,
            "description": self.description,
        });
        let mut parameters = Map::new();
        if let Some(secs) = self.retry_after {
            parameters.insert("retry_after".into(), secs.into());
        }
        if let Some(chat_id) = self.migrate_to_chat_id {
            parameters.insert("migrate_to_chat_id".into(), chat_id.into());
        }
        if !parameters.is_empty() {
            body["parameters"] = Value::Object(parameters);
        }
        body
    }
}

impl IntoResponse for ApiError {
    /// The body, with the HTTP status equal to the error code (500 if the
    /// code is no HTTP error status).
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.code)
            .ok()
            .filter(|s| s.as_u16() >= 200)
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (status, Json(self.body())).into_response()
    }
}
