//! Request parameters: the query string and the body (JSON, form-encoded or
//! `multipart/form-data`), merged, with typed getters that accept what the
//! Bot API accepts (numbers as numbers or numeric strings, JSON structures
//! inline or as JSON strings).
//!
//! Form-encoded text (the query string, a form body) is decoded by
//! `form_urlencoded`, as browsers and most servers decode it: `+` is a space,
//! a malformed `%` escape stays as typed, and bytes that are not UTF-8 become
//! U+FFFD.
//!
//! A multipart body is read by `multer`: a part without a file name is a
//! parameter like a form field, a part with one (even an empty one) is an
//! uploaded file, kept in memory under its part name for the methods to find
//! ([`Params::file`]) as the parameter itself (`photo`) or through
//! `attach://<part name>`. A file part may hold up to [`MAX_UPLOAD_BYTES`], the
//! whole body up to [`MAX_MULTIPART_BODY_BYTES`]; more is a 413, as
//! Telegram's front end answers. Other bodies may hold up to
//! [`MAX_BODY_BYTES`].

use std::collections::HashMap;

use axum::body::{Body, Bytes};
use serde_json::{Map, Value, json};

use super::error::ApiError;

/// A JSON or form body above this is refused with 413 (Telegram's own limits
/// are lower for everything but file uploads).
pub(super) const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;
/// The largest file a bot may upload, as Telegram's cloud Bot API allows:
/// 50 MB (in binary megabytes, as `TDLib` counts its limits).
pub(super) const MAX_UPLOAD_BYTES: u64 = 50 * 1024 * 1024;
/// A multipart body above this is refused with 413: one upload of the
/// largest size and the usual parameters (the fake holds a request in memory).
pub(super) const MAX_MULTIPART_BODY_BYTES: u64 = MAX_UPLOAD_BYTES + MAX_BODY_BYTES as u64;

/// The parameters of one request.
#[derive(Debug, Default)]
pub(super) struct Params {
    /// Every parameter as JSON; form values that parse as JSON are that JSON.
    values: Map<String, Value>,
    /// Query and form values as typed, so that a string parameter keeps its
    /// exact text even when it looks like JSON (`text=007`).
    raw: HashMap<String, String>,
    /// Uploaded files (multipart parts with a file name), by part name.
    files: HashMap<String, Upload>,
}

/// One uploaded file: a multipart part with a file name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Upload {
    /// The part's file name; `None` if it gave an empty one.
    pub(super) file_name: Option<String>,
    /// The part's `Content-Type`, if it had one.
    pub(super) mime_type: Option<String>,
    /// The content.
    pub(super) bytes: Bytes,
}

impl Params {
    /// Reads a request's body within the size limits and merges its
    /// parameters with the query string's; body parameters win. A body over
    /// its limit is a 413, a malformed one a 400.
    pub(super) async fn read(
        query: Option<&str>,
        content_type: Option<&str>,
        body: Body,
    ) -> Result<Params, ApiError> {
        if media_type(content_type) != "multipart/form-data" {
            let body = axum::body::to_bytes(body, MAX_BODY_BYTES)
                .await
                .map_err(|_| too_large())?;
            return Params::parse(query, content_type, &body);
        }
        let boundary =
            multer::parse_boundary(content_type.unwrap_or_default()).map_err(multipart_error)?;
        let mut params = Params::default();
        if let Some(query) = query {
            params.add_form(query.as_bytes());
        }
        params
            .add_multipart(body, boundary, MAX_UPLOAD_BYTES, MAX_MULTIPART_BODY_BYTES)
            .await?;
        Ok(params)
    }

    /// Merges the query string and a JSON or form body; body parameters win.
    pub(super) fn parse(
        query: Option<&str>,
        content_type: Option<&str>,
        body: &[u8],
    ) -> Result<Params, ApiError> {
        let mut params = Params::default();
        if let Some(query) = query {
            params.add_form(query.as_bytes());
        }
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(params);
        }
        let looks_like_json = body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
        match media_type(content_type).as_str() {
            "application/json" => params.add_json(body)?,
            "application/x-www-form-urlencoded" => params.add_form(body),
            // Its parts are read as they arrive, by `Params::read`.
            "multipart/form-data" => {
                return Err(ApiError::bad_request(
                    "can't parse multipart/form-data body: not read as a stream",
                ));
            }
            _ if looks_like_json => params.add_json(body)?,
            _ => params.add_form(body),
        }
        Ok(params)
    }

    /// All parameters as one JSON object (what [`super::RecordedRequest`]
    /// keeps); an uploaded file is `{"file_name":..,"mime_type":..,"file_size":..}`.
    pub(super) fn to_json(&self) -> Value {
        let mut values = self.values.clone();
        for (name, upload) in &self.files {
            let described = json!({
                "file_name": upload.file_name,
                "mime_type": upload.mime_type,
                "file_size": upload.bytes.len(),
            });
            values.insert(name.clone(), described);
        }
        Value::Object(values)
    }

    /// The file uploaded in the multipart part `name`.
    pub(super) fn file(&self, name: &str) -> Option<&Upload> {
        self.files.get(name)
    }

    /// A present, non-null value.
    fn get(&self, name: &str) -> Option<&Value> {
        self.values.get(name).filter(|v| !v.is_null())
    }

    /// A string parameter; numbers and booleans are taken as their text.
    pub(super) fn opt_str(&self, name: &str) -> Result<Option<String>, ApiError> {
        if let Some(raw) = self.raw.get(name) {
            return Ok(Some(raw.clone()));
        }
        match self.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(v @ (Value::Number(_) | Value::Bool(_))) => Ok(Some(v.to_string())),
            Some(_) => Err(invalid(name)),
        }
    }

    /// An integer parameter, as a JSON number or a numeric string.
    pub(super) fn opt_i64(&self, name: &str) -> Result<Option<i64>, ApiError> {
        self.get(name)
            .map(|v| value_as_i64(v).ok_or_else(|| invalid(name)))
            .transpose()
    }

    /// A required integer parameter.
    pub(super) fn req_i64(&self, name: &str) -> Result<i64, ApiError> {
        self.opt_i64(name)?.ok_or_else(|| missing(name))
    }

    /// A number parameter, as a JSON number or a numeric string; an empty
    /// string is no value, as the Bot API reads it.
    pub(super) fn opt_f64(&self, name: &str) -> Result<Option<f64>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
            Some(Value::Number(n)) => Ok(n.as_f64()),
            Some(Value::String(s)) => s.trim().parse().map(Some).map_err(|_| invalid(name)),
            Some(_) => Err(invalid(name)),
        }
    }

    pub(super) fn req_str(&self, name: &str) -> Result<String, ApiError> {
        self.opt_str(name)?.ok_or_else(|| missing(name))
    }

    /// A boolean parameter: `true`/`false`, or `1`/`0`, as JSON or text.
    pub(super) fn opt_bool(&self, name: &str) -> Result<Option<bool>, ApiError> {
        self.get(name)
            .map(|v| match v {
                Value::Bool(b) => Ok(*b),
                Value::Number(n) if n.as_i64() == Some(1) => Ok(true),
                Value::Number(n) if n.as_i64() == Some(0) => Ok(false),
                Value::String(s) if s.eq_ignore_ascii_case("true") => Ok(true),
                Value::String(s) if s.eq_ignore_ascii_case("false") => Ok(false),
                _ => Err(invalid(name)),
            })
            .transpose()
    }

    /// A JSON-structured parameter (array or object), inline or as a JSON string.
    pub(super) fn opt_json(&self, name: &str) -> Result<Option<Value>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => serde_json::from_str::<Value>(s)
                .map(|v| (!v.is_null()).then_some(v))
                .map_err(|_| ApiError::bad_request(&format!("can't parse {name} JSON object"))),
            Some(v) => Ok(Some(v.clone())),
        }
    }

    /// A required chat id. `@username` strings name no chat in the fake.
    pub(super) fn chat_id(&self, name: &str) -> Result<i64, ApiError> {
        match self.get(name) {
            None => Err(missing(name)),
            Some(Value::String(s)) if s.trim().starts_with('@') => {
                Err(ApiError::bad_request("chat not found"))
            }
            Some(v) => value_as_i64(v).ok_or_else(|| ApiError::bad_request("chat not found")),
        }
    }

    fn add_json(&mut self, body: &[u8]) -> Result<(), ApiError> {
        let parsed: Value = serde_json::from_slice(body)
            .map_err(|err| ApiError::bad_request(&format!("can't parse JSON body: {err}")))?;
        let Value::Object(map) = parsed else {
            return Err(ApiError::bad_request("JSON body must be an object"));
        };
        for (key, value) in map {
            self.raw.remove(&key);
            self.files.remove(&key);
            self.values.insert(key, value);
        }
        Ok(())
    }

    fn add_form(&mut self, encoded: &[u8]) {
        for (key, value) in form_urlencoded::parse(encoded) {
            self.add_text(key.into_owned(), value.into_owned());
        }
    }

    /// A parameter given as text (a form field, a multipart part without a
    /// file name); a later one of the same name wins.
    fn add_text(&mut self, key: String, value: String) {
        let json = serde_json::from_str(&value).unwrap_or_else(|_| Value::String(value.clone()));
        self.files.remove(&key);
        self.values.insert(key.clone(), json);
        self.raw.insert(key, value);
    }

    /// Reads the parts of a multipart body as they arrive: parameters and
    /// uploaded files, each file part up to `max_part` bytes and the whole
    /// body up to `max_body`.
    async fn add_multipart(
        &mut self,
        body: Body,
        boundary: String,
        max_part: u64,
        max_body: u64,
    ) -> Result<(), ApiError> {
        let limits = multer::SizeLimit::new()
            .whole_stream(max_body)
            .per_field(max_part);
        let constraints = multer::Constraints::new().size_limit(limits);
        let mut parts =
            multer::Multipart::with_constraints(body.into_data_stream(), boundary, constraints);
        while let Some(part) = parts.next_field().await.map_err(multipart_error)? {
            // A part without a name names no parameter; the next call skips it.
            let Some(name) = part.name().map(str::to_owned) else {
                continue;
            };
            let file_name = part.file_name().map(str::to_owned);
            let mime_type = part.content_type().map(ToString::to_string);
            let bytes = part.bytes().await.map_err(multipart_error)?;
            match file_name {
                Some(file_name) => {
                    let upload = Upload {
                        file_name: (!file_name.is_empty()).then_some(file_name),
                        mime_type,
                        bytes,
                    };
                    self.values.remove(&name);
                    self.raw.remove(&name);
                    self.files.insert(name, upload);
                }
                None => self.add_text(name, String::from_utf8_lossy(&bytes).into_owned()),
            }
        }
        Ok(())
    }
}

/// The media type of a `Content-Type`, lowercase, without parameters.
fn media_type(content_type: Option<&str>) -> String {
    content_type
        .and_then(|c| c.split(';').next())
        .map(|c| c.trim().to_ascii_lowercase())
        .unwrap_or_default()
}

/// What Telegram's front end answers for a body over its limit.
fn too_large() -> ApiError {
    ApiError::new(413, "Request Entity Too Large")
}

fn multipart_error(err: multer::Error) -> ApiError {
    match err {
        multer::Error::FieldSizeExceeded { .. } | multer::Error::StreamSizeExceeded { .. } => {
            too_large()
        }
        other => ApiError::bad_request(&format!("can't parse multipart/form-data body: {other}")),
    }
}

/// An integer from a JSON number (integral) or a numeric string.
pub(super) fn value_as_i64(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64().or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
                .map(|f| f as i64)
        }),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn missing(name: &str) -> ApiError {
    ApiError::bad_request(&format!("{name} is empty"))
}

fn invalid(name: &str) -> ApiError {
    ApiError::bad_request(&format!("invalid {name} specified"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_values_that_look_like_json_are_json_but_keep_their_text() {
        let body = b"chat_id=-100123&text=42.0&allowed_updates=%5B%22message%22%5D&name=a+b%21";
        let params = Params::parse(None, Some("application/x-www-form-urlencoded"), body).unwrap();
        assert_eq!(params.chat_id("chat_id").unwrap(), -100_123);
        assert_eq!(params.opt_str("text").unwrap().as_deref(), Some("42.0"));
        assert_eq!(params.to_json()["text"], serde_json::json!(42.0));
        assert_eq!(
            params.opt_json("allowed_updates").unwrap(),
            Some(serde_json::json!(["message"]))
        );
        assert_eq!(params.opt_str("name").unwrap().as_deref(), Some("a b!"));
    }

    #[test]
    fn malformed_form_text_is_decoded_leniently() {
        let form = Some("application/x-www-form-urlencoded");
        let params = Params::parse(Some("q=%zz"), form, b"a=%ff&b=100%&c").unwrap();
        assert_eq!(params.opt_str("q").unwrap().as_deref(), Some("%zz"));
        assert_eq!(params.opt_str("a").unwrap().as_deref(), Some("\u{fffd}"));
        assert_eq!(params.opt_str("b").unwrap().as_deref(), Some("100%"));
        assert_eq!(params.opt_str("c").unwrap().as_deref(), Some(""));
    }

    #[test]
    fn body_overrides_query_and_bad_input_is_a_400() {
        let params = Params::parse(
            Some("offset=1&timeout=5"),
            Some("application/json; charset=utf-8"),
            br#"{"offset":"7"}"#,
        )
        .unwrap();
        assert_eq!(params.opt_i64("offset").unwrap(), Some(7));
        assert_eq!(params.opt_i64("timeout").unwrap(), Some(5));
        assert_eq!(params.opt_i64("limit").unwrap(), None);

        for body in [&b"{not json"[..], &b"[1,2]"[..]] {
            let err = Params::parse(None, Some("application/json"), body).unwrap_err();
            assert_eq!(err.code, 400, "{body:?}");
        }
        let params = Params::parse(None, None, br#"{"offset":"x"}"#).unwrap();
        assert_eq!(params.opt_i64("offset").unwrap_err().code, 400);
    }

    const FORM: &str = "multipart/form-data; boundary=b0undary";

    fn multipart(parts: &[(&str, Option<&str>, &str)]) -> Body {
        use std::fmt::Write as _;
        let mut body = String::new();
        for (name, file_name, content) in parts {
            let file = file_name.map_or_else(String::new, |file_name| {
                format!("; filename=\"{file_name}\"\r\nContent-Type: text/plain")
            });
            let _ = write!(
                body,
                "--b0undary\r\nContent-Disposition: form-data; name=\"{name}\"{file}\r\n\r\n\
                 {content}\r\n"
            );
        }
        body.push_str("--b0undary--\r\n");
        Body::from(body)
    }

    #[tokio::test]
    async fn multipart_parts_are_parameters_or_uploads() {
        let body = multipart(&[
            ("chat_id", None, "-100123"),
            ("caption", None, "007"),
            ("reply_markup", None, r#"{"inline_keyboard":[]}"#),
            ("photo", Some("cat.jpg"), "JPEG bytes"),
            ("blank", Some(""), "x"),
        ]);
        let params = Params::read(Some("caption=query&offset=3"), Some(FORM), body)
            .await
            .unwrap();
        assert_eq!(params.chat_id("chat_id").unwrap(), -100_123);
        assert_eq!(params.opt_str("caption").unwrap().as_deref(), Some("007"));
        assert_eq!(params.opt_i64("offset").unwrap(), Some(3));
        assert_eq!(
            params.opt_json("reply_markup").unwrap(),
            Some(json!({ "inline_keyboard": [] }))
        );
        let photo = params.file("photo").unwrap();
        assert_eq!(photo.file_name.as_deref(), Some("cat.jpg"));
        assert_eq!(photo.mime_type.as_deref(), Some("text/plain"));
        assert_eq!(&photo.bytes[..], b"JPEG bytes");
        assert_eq!(params.opt_str("photo").unwrap(), None, "a file is no text");
        assert_eq!(params.file("blank").unwrap().file_name, None);
        assert_eq!(
            params.to_json()["photo"],
            json!({ "file_name": "cat.jpg", "mime_type": "text/plain", "file_size": 10 })
        );
    }

    #[tokio::test]
    async fn multipart_limits_are_413s_and_bad_bodies_400s() {
        let big = "x".repeat(64);
        let mut params = Params::default();
        let body = multipart(&[("document", Some("a.txt"), &big)]);
        let err = params
            .add_multipart(body, "b0undary".into(), 63, 1000)
            .await
            .unwrap_err();
        assert_eq!(err.code, 413);
        let body = multipart(&[("a", None, &big), ("b", None, &big)]);
        let err = params
            .add_multipart(body, "b0undary".into(), 1000, 100)
            .await
            .unwrap_err();
        assert_eq!(err.code, 413);

        for content_type in [FORM, "multipart/form-data"] {
            let body =
                Body::from("--b0undary\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1");
            let err = Params::read(None, Some(content_type), body)
                .await
                .unwrap_err();
            assert_eq!(err.code, 400, "{content_type}");
            assert!(err.description.starts_with("Bad Request: "), "{err:?}");
        }
        let body = Body::from(vec![b' '; MAX_BODY_BYTES + 1]);
        let err = Params::read(None, Some("application/json"), body)
            .await
            .unwrap_err();
        assert_eq!(err.code, 413);
    }
}
