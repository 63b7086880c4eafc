//! Request parameters: the query string and the body (JSON or form-encoded),
//! merged, with typed getters that accept what the Bot API accepts (numbers as
//! numbers or numeric strings, JSON structures inline or as JSON strings).
//!
//! Form-encoded text (the query string, a form body) is decoded by
//! `form_urlencoded`, as browsers and most servers decode it: `+` is a space,
//! a malformed `%` escape stays as typed, and bytes that are not UTF-8 become
//! U+FFFD.

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::error::ApiError;

/// The parameters of one request.
#[derive(Debug, Default)]
pub(super) struct Params {
    /// Every parameter as JSON; form values that parse as JSON are that JSON.
    values: Map<String, Value>,
    /// Query and form values as typed, so that a string parameter keeps its
    /// exact text even when it looks like JSON (`text=007`).
    raw: HashMap<String, String>,
}

impl Params {
    /// Merges the query string and the body; body parameters win.
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
        let media_type = content_type
            .and_then(|c| c.split(';').next())
            .map(|c| c.trim().to_ascii_lowercase())
            .unwrap_or_default();
        let looks_like_json = body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
        match media_type.as_str() {
            "application/json" => params.add_json(body)?,
            "application/x-www-form-urlencoded" => params.add_form(body),
            "multipart/form-data" => {
                return Err(ApiError::bad_request(
                    "multipart/form-data is not supported by the fake Bot API",
                ));
            }
            _ if looks_like_json => params.add_json(body)?,
            _ => params.add_form(body),
        }
        Ok(params)
    }

    /// All parameters as one JSON object (what [`super::RecordedRequest`] keeps).
    pub(super) fn to_json(&self) -> Value {
        Value::Object(self.values.clone())
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
            self.values.insert(key, value);
        }
        Ok(())
    }

    fn add_form(&mut self, encoded: &[u8]) {
        for (key, value) in form_urlencoded::parse(encoded) {
            let json =
                serde_json::from_str(&value).unwrap_or_else(|_| Value::String(value.to_string()));
            self.values.insert(key.to_string(), json);
            self.raw.insert(key.into_owned(), value.into_owned());
        }
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
}
