//! Answers in the Bot API's wire format, for what the proxy answers itself.

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// `{"ok":true,"result":...}` with status 200.
pub fn ok(result: &Value) -> Response {
    json_response(
        StatusCode::OK,
        json!({"ok": true, "result": result}).to_string(),
    )
}

/// `{"ok":true,"result":...,"description":...}`, as Telegram answers
/// `setWebhook` ("Webhook was set").
pub fn ok_described(result: &Value, description: &str) -> Response {
    let body = json!({"ok": true, "result": result, "description": description});
    json_response(StatusCode::OK, body.to_string())
}

/// `{"ok":true,"result":[...]}` from updates kept as JSON text, without
/// parsing them again.
pub fn ok_raw_list<'a>(items: impl IntoIterator<Item = &'a str>) -> Response {
    let mut body = String::from("{\"ok\":true,\"result\":[");
    for (index, item) in items.into_iter().enumerate() {
        if index > 0 {
            body.push(',');
        }
        body.push_str(item);
    }
    body.push_str("]}");
    json_response(StatusCode::OK, body)
}

/// `{"ok":false,"error_code":code,"description":...}`, with the HTTP status
/// equal to the code, as Telegram answers.
pub fn error(code: u16, description: &str) -> Response {
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = json!({"ok": false, "error_code": code, "description": description});
    json_response(status, body.to_string())
}

/// Telegram's answer to a token it does not know.
pub fn unauthorized() -> Response {
    error(401, "Unauthorized")
}

/// Telegram's answer to a path or method it does not know.
pub fn not_found() -> Response {
    error(404, "Not Found")
}

/// A request body over the limit.
pub fn too_large(limit: u64) -> Response {
    error(
        413,
        &format!(
            "Request Entity Too Large: switchboard accepts request bodies of at most {} MB ([http] max_upload_mb)",
            limit / crate::config::MEGABYTE
        ),
    )
}

/// A parameter the Bot API would refuse.
pub fn bad_request(description: &str) -> Response {
    error(400, &format!("Bad Request: {description}"))
}

fn json_response(status: StatusCode, body: String) -> Response {
    let mut response = (status, Body::from(body)).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}
