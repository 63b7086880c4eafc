//! The parameters of a method the proxy answers itself (`getUpdates`,
//! `setWebhook`, ...), read the ways the Bot API accepts them: the query
//! string, and a JSON, form-encoded or multipart body. Form and multipart
//! values are text; a typed getter accepts a number as a number or as its
//! text, and a list as JSON or as JSON text, as Telegram does.

use std::collections::HashMap;

use serde_json::Value;

/// Most bytes of a body the proxy reads whole (its own methods only; a
/// `setWebhook` certificate is a few kilobytes).
pub const MAX_LOCAL_BODY: usize = 1024 * 1024;

#[derive(Debug, Default)]
pub struct Params {
    values: HashMap<String, Value>,
}

impl Params {
    /// Merges the query string and the body; body parameters win.
    pub async fn read(
        query: Option<&str>,
        content_type: Option<&str>,
        body: bytes::Bytes,
    ) -> Result<Params, String> {
        let mut params = Params::default();
        if let Some(query) = query {
            params.add_form(query.as_bytes());
        }
        let media_type = content_type
            .and_then(|c| c.split(';').next())
            .map(|c| c.trim().to_ascii_lowercase())
            .unwrap_or_default();
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(params);
        }
        match media_type.as_str() {
            "application/json" => params.add_json(&body)?,
            "multipart/form-data" => {
                let boundary = content_type
                    .and_then(|c| multer::parse_boundary(c).ok())
                    .ok_or("a multipart body without a boundary")?;
                params.add_multipart(body, &boundary).await?;
            }
            _ if body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{') => {
                params.add_json(&body)?;
            }
            _ => params.add_form(&body),
        }
        Ok(params)
    }

    fn add_form(&mut self, text: &[u8]) {
        for (key, value) in form_urlencoded::parse(text) {
            self.values
                .insert(key.into_owned(), Value::String(value.into_owned()));
        }
    }

    fn add_json(&mut self, body: &[u8]) -> Result<(), String> {
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(map)) => {
                self.values.extend(map);
                Ok(())
            }
            Ok(_) => Err("the JSON body is not an object".into()),
            Err(err) => Err(format!("can't parse JSON: {err}")),
        }
    }

    /// Text parts become parameters; file parts (a certificate) are read
    /// and left out.
    async fn add_multipart(&mut self, body: bytes::Bytes, boundary: &str) -> Result<(), String> {
        let stream = futures_util::stream::once(async move { Ok::<_, std::io::Error>(body) });
        let mut multipart = multer::Multipart::new(stream, boundary);
        loop {
            let field = match multipart.next_field().await {
                Ok(Some(field)) => field,
                Ok(None) => return Ok(()),
                Err(err) => return Err(format!("can't parse the multipart body: {err}")),
            };
            let name = field.name().map(str::to_owned);
            let is_file = field.file_name().is_some();
            let text = field
                .text()
                .await
                .map_err(|err| format!("can't parse the multipart body: {err}"))?;
            if let (Some(name), false) = (name, is_file) {
                self.values.insert(name, Value::String(text));
            }
        }
    }

    /// An integer parameter, as a number or its text.
    pub fn int(&self, key: &str) -> Result<Option<i64>, String> {
        match self.values.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => n
                .as_i64()
                .map(Some)
                .ok_or_else(|| format!("parameter \"{key}\" must be an integer")),
            Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
            Some(Value::String(s)) => s
                .trim()
                .parse()
                .map(Some)
                .map_err(|_| format!("parameter \"{key}\" must be an integer")),
            Some(_) => Err(format!("parameter \"{key}\" must be an integer")),
        }
    }

    /// A text parameter; numbers are taken as their text.
    pub fn text(&self, key: &str) -> Option<String> {
        match self.values.get(key)? {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }

    /// A boolean parameter: `true`, `"true"`, `1` or `"1"`.
    pub fn flag(&self, key: &str) -> bool {
        match self.values.get(key) {
            Some(Value::Bool(b)) => *b,
            Some(Value::Number(n)) => n.as_i64() == Some(1),
            Some(Value::String(s)) => matches!(s.trim(), "true" | "True" | "1"),
            _ => false,
        }
    }

    /// A list of strings, given as a JSON array or as its JSON text.
    pub fn strings(&self, key: &str) -> Result<Option<Vec<String>>, String> {
        let parsed;
        let value = match self.values.get(key) {
            None | Some(Value::Null) => return Ok(None),
            Some(Value::String(s)) if s.trim().is_empty() => return Ok(None),
            Some(Value::String(s)) => {
                parsed = serde_json::from_str::<Value>(s)
                    .map_err(|_| format!("can't parse \"{key}\" JSON array"))?;
                &parsed
            }
            Some(value) => value,
        };
        let Value::Array(items) = value else {
            return Err(format!("parameter \"{key}\" must be an array"));
        };
        items
            .iter()
            .map(|item| {
                item.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| format!("parameter \"{key}\" must be an array of strings"))
            })
            .collect::<Result<_, _>>()
            .map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn read(query: Option<&str>, content_type: &str, body: &str) -> Params {
        Params::read(
            query,
            Some(content_type),
            bytes::Bytes::from(body.to_owned()),
        )
        .await
        .unwrap()
    }

    #[tokio::test]
    async fn every_encoding_reads_the_same() {
        let json = read(
            None,
            "application/json",
            r#"{"offset":5,"allowed_updates":["message","chat_member"],"drop_pending_updates":true}"#,
        )
        .await;
        let form = read(
            Some("offset=1"),
            "application/x-www-form-urlencoded",
            "offset=5&allowed_updates=%5B%22message%22%2C%22chat_member%22%5D&drop_pending_updates=True",
        )
        .await;
        let boundary = "XyZ";
        let multipart = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"offset\"\r\n\r\n5\r\n\
             --{boundary}\r\nContent-Disposition: form-data; name=\"allowed_updates\"\r\n\r\n[\"message\",\"chat_member\"]\r\n\
             --{boundary}\r\nContent-Disposition: form-data; name=\"drop_pending_updates\"\r\n\r\ntrue\r\n\
             --{boundary}\r\nContent-Disposition: form-data; name=\"certificate\"; filename=\"c.pem\"\r\n\r\nPEM\r\n\
             --{boundary}--\r\n"
        );
        let multipart = read(
            None,
            &format!("multipart/form-data; boundary={boundary}"),
            &multipart,
        )
        .await;
        for params in [json, form, multipart] {
            assert_eq!(params.int("offset").unwrap(), Some(5));
            assert_eq!(
                params.strings("allowed_updates").unwrap().unwrap(),
                ["message", "chat_member"]
            );
            assert!(params.flag("drop_pending_updates"));
            assert_eq!(params.text("certificate"), None, "files are not parameters");
            assert_eq!(params.int("limit").unwrap(), None);
        }
    }

    proptest::proptest! {
        #[test]
        fn any_body_is_read_or_refused_without_a_panic(
            body in proptest::collection::vec(proptest::num::u8::ANY, 0..300),
            kind in proptest::sample::select(vec![
                "application/json", "application/x-www-form-urlencoded",
                "multipart/form-data; boundary=X", "multipart/form-data", "text/plain",
            ]),
            query in "\\PC{0,40}",
        ) {
            let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
            runtime.block_on(async {
                if let Ok(params) = Params::read(Some(&query), Some(kind), bytes::Bytes::from(body)).await {
                    let _ = (params.int("offset"), params.strings("allowed_updates"), params.flag("x"));
                }
            });
        }
    }

    #[tokio::test]
    async fn wrong_types_are_named() {
        let params = read(
            Some("offset=abc&allowed_updates=message"),
            "application/json",
            "",
        )
        .await;
        assert_eq!(
            params.int("offset").unwrap_err(),
            "parameter \"offset\" must be an integer"
        );
        assert!(params.strings("allowed_updates").is_err());
        let bad = Params::read(None, Some("application/json"), bytes::Bytes::from("[1]")).await;
        assert!(bad.is_err());
    }
}
