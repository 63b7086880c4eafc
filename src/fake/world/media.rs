//! The methods that send files: `sendPhoto`, `sendDocument`, `sendVideo`,
//! `sendAudio`, `sendVoice`, `sendAnimation` and `sendMediaGroup`; and the
//! reading of an `InputMedia`, which `editMessageMedia` (in `edits.rs`)
//! shares with `sendMediaGroup`.
//!
//! A file is named as the Bot API server reads it: a non-empty parameter is
//! `attach://<part>` (an uploaded part), an `http(s)://` URL (a file the fake
//! makes up; nothing is fetched) or a `file_id` the fake knows; an empty or
//! missing one is the upload in the part of the parameter's name. A request
//! is checked whole before anything is stored: a refused send stores no file.

use serde_json::{Map, Value};

use super::World;
use super::files::{FileKind, Meta, NewFile};
use super::methods::{MAX_CAPTION_CHARS, formatted, inline_markup, random_digits};
use crate::fake::error::ApiError;
use crate::fake::params::{Params, Upload};

/// The largest photo a bot may upload, as `TDLib` checks it: `10 << 20` bytes.
const MAX_PHOTO_BYTES: usize = 10 << 20;
/// The most items an album holds.
const MAX_ALBUM_ITEMS: usize = 10;

/// A file a request names, checked but not stored yet.
enum Input<'p> {
    Upload(&'p Upload),
    FileId(String),
    Url(String),
}

/// One `InputMedia` (of `sendMediaGroup` or `editMessageMedia`), read.
pub(super) struct MediaItem<'p> {
    pub(super) kind: FileKind,
    input: Input<'p>,
    meta: Meta,
    caption: Map<String, Value>,
    has_spoiler: bool,
    caption_above: bool,
}

impl World {
    /// `sendPhoto`, `sendDocument`, ...: a message showing a file of `kind`,
    /// with the caption, keyboard, topic and reply `sendMessage` takes.
    pub(super) fn send_file(
        &mut self,
        bot: i64,
        p: &Params,
        kind: FileKind,
    ) -> Result<Value, ApiError> {
        let chat_id = p.chat_id("chat_id")?;
        let named = p.opt_str(kind.field())?.filter(|name| !name.is_empty());
        let input = match named {
            Some(name) => self.named_input(p, &name, kind)?,
            None => p.file(kind.field()).map(Input::Upload),
        }
        .ok_or_else(|| kind.missing())?;
        check_upload(&input, kind)?;
        let caption = caption_fields(
            p.opt_str("caption")?,
            p.opt_str("parse_mode")?,
            p.opt_json("caption_entities")?,
        )?;
        let meta = Meta::from_params(p)?;
        let has_spoiler = p.opt_bool("has_spoiler")?.unwrap_or(false);
        let caption_above = p.opt_bool("show_caption_above_media")?.unwrap_or(false);
        let (chat, thread) = self.destination(bot, chat_id, p.opt_i64("message_thread_id")?)?;
        let reply = self.reply_target(chat, p)?;
        let markup = inline_markup(p)?;

        let mut content = self.store_input(input, kind, meta);
        add_caption(&mut content, kind, caption, has_spoiler, caption_above);
        if let Some(markup) = markup {
            content.insert("reply_markup".into(), markup);
        }
        let from = self.bot_user_json(bot);
        Ok(self.post(chat, Some(from), thread, reply, content))
    }

    /// `sendMediaGroup`: up to 10 photos and videos, or documents, or audio
    /// files, as one album (messages sharing a `media_group_id`; a single
    /// item is sent alone, as Telegram does). Each item has its own caption.
    pub(super) fn send_media_group(&mut self, bot: i64, p: &Params) -> Result<Value, ApiError> {
        let chat_id = p.chat_id("chat_id")?;
        let media = match p.opt_json("media")? {
            None => return Err(ApiError::bad_request("parameter \"media\" is required")),
            Some(Value::Array(media)) => media,
            Some(_) => return Err(ApiError::bad_request("expected an Array of InputMedia")),
        };
        let items = media
            .iter()
            .map(|item| self.input_media(p, item, true))
            .collect::<Result<Vec<_>, _>>()?;
        if items.is_empty() {
            return Err(ApiError::bad_request("there are no messages to send"));
        }
        if items.len() > MAX_ALBUM_ITEMS {
            return Err(ApiError::bad_request(
                "too many messages to send as an album",
            ));
        }
        for (kind, name) in [(FileKind::Document, "document"), (FileKind::Audio, "audio")] {
            let alike = items.iter().filter(|item| item.kind == kind).count();
            if alike > 0 && alike < items.len() {
                return Err(ApiError::bad_request(&format!(
                    "{name} can't be mixed with other media types"
                )));
            }
        }
        let (chat, thread) = self.destination(bot, chat_id, p.opt_i64("message_thread_id")?)?;
        let reply = self.reply_target(chat, p)?;

        let album = (items.len() > 1).then(|| random_digits(18));
        let from = self.bot_user_json(bot);
        let mut sent = Vec::with_capacity(items.len());
        for item in items {
            let mut content = self.media_content(item);
            if let Some(album) = &album {
                content.insert("media_group_id".into(), album.clone().into());
            }
            let message = self.post(chat, Some(from.clone()), thread, reply.clone(), content);
            sent.push(message);
        }
        Ok(Value::Array(sent))
    }

    /// One `InputMedia` object, read and checked; errors as the Bot API
    /// server words them (`can't parse InputMedia: media not found`). An
    /// animation is refused `for_album` (`sendMediaGroup`).
    pub(super) fn input_media<'p>(
        &self,
        p: &'p Params,
        item: &Value,
        for_album: bool,
    ) -> Result<MediaItem<'p>, ApiError> {
        let invalid = |why: &str| ApiError::bad_request(&format!("can't parse InputMedia: {why}"));
        let Value::Object(media) = item else {
            return Err(invalid("expected an Object"));
        };
        let text = |name: &str| media.get(name).and_then(Value::as_str).map(str::to_owned);
        let flag = |name: &str| media.get(name).and_then(Value::as_bool).unwrap_or(false);
        let entities = media
            .get("caption_entities")
            .filter(|e| !e.is_null())
            .cloned();
        let caption = caption_fields(text("caption"), text("parse_mode"), entities)?;
        let kind = match media.get("type").and_then(Value::as_str) {
            None => return Err(invalid("field \"type\" must be of type String")),
            Some("photo") => FileKind::Photo,
            Some("video") => FileKind::Video,
            Some("document") => FileKind::Document,
            Some("audio") => FileKind::Audio,
            Some(other @ "animation") if for_album => {
                return Err(invalid(&format!(
                    "type \"{other}\" can't be used in sendMediaGroup"
                )));
            }
            Some("animation") => FileKind::Animation,
            Some(other) => return Err(invalid(&format!("type \"{other}\" is unsupported"))),
        };
        let name = media.get("media").and_then(Value::as_str).unwrap_or("");
        let input = if name.is_empty() {
            None
        } else {
            self.named_input(p, name, kind)?
        }
        .ok_or_else(|| invalid("media not found"))?;
        check_upload(&input, kind)?;
        Ok(MediaItem {
            kind,
            input,
            meta: Meta::from_json(media),
            caption,
            has_spoiler: flag("has_spoiler"),
            caption_above: flag("show_caption_above_media"),
        })
    }

    /// Stores the file of an `InputMedia` read by [`World::input_media`]
    /// and returns the message fields that show it, with its caption.
    pub(super) fn media_content(&mut self, item: MediaItem<'_>) -> Map<String, Value> {
        let mut content = self.store_input(item.input, item.kind, item.meta);
        add_caption(
            &mut content,
            item.kind,
            item.caption,
            item.has_spoiler,
            item.caption_above,
        );
        content
    }

    /// The file a non-empty file parameter names: `None` for `attach://` to
    /// a part the request does not have; 400 for an unknown `file_id` or
    /// one of a kind that cannot stand in for `kind`.
    fn named_input<'p>(
        &self,
        p: &'p Params,
        name: &str,
        kind: FileKind,
    ) -> Result<Option<Input<'p>>, ApiError> {
        if let Some(part) = name.strip_prefix("attach://") {
            return Ok(p.file(part).map(Input::Upload));
        }
        let lower = name.get(..8).unwrap_or(name).to_ascii_lowercase();
        if lower.starts_with("http://") || lower.starts_with("https://") {
            return Ok(Some(Input::Url(name.to_owned())));
        }
        let known = self
            .files
            .kind_of(name)
            .ok_or_else(|| ApiError::bad_request("wrong file identifier/HTTP URL specified"))?;
        known.check_sent_as(kind)?;
        Ok(Some(Input::FileId(name.to_owned())))
    }

    /// Stores the file (unless known) and returns the message fields that show it.
    fn store_input(&mut self, input: Input<'_>, kind: FileKind, meta: Meta) -> Map<String, Value> {
        let new = match input {
            Input::FileId(file_id) => return self.files.shown(&file_id).unwrap_or_default(),
            Input::Upload(upload) => NewFile {
                kind,
                bytes: Some(upload.bytes.clone()),
                file_name: upload.file_name.clone(),
                mime_type: upload.mime_type.clone(),
                meta,
            },
            Input::Url(url) => NewFile {
                kind,
                bytes: None,
                file_name: url_file_name(&url),
                mime_type: None,
                meta,
            },
        };
        self.files.add(new)
    }
}

/// An upload Telegram refuses: an empty one, a photo over 10 MB.
fn check_upload(input: &Input<'_>, kind: FileKind) -> Result<(), ApiError> {
    let Input::Upload(upload) = input else {
        return Ok(());
    };
    let size = upload.bytes.len();
    if size == 0 {
        return Err(ApiError::bad_request("file must be non-empty"));
    }
    if kind == FileKind::Photo && size > MAX_PHOTO_BYTES {
        return Err(ApiError::bad_request(&format!(
            "file of size {size} bytes is too big for a photo; the maximum size is \
             {MAX_PHOTO_BYTES} bytes"
        )));
    }
    Ok(())
}

/// `caption` and `caption_entities` after the parse mode, as `sendMessage`
/// formats its text; an empty caption is none.
fn caption_fields(
    caption: Option<String>,
    parse_mode: Option<String>,
    entities: Option<Value>,
) -> Result<Map<String, Value>, ApiError> {
    let mut fields = Map::new();
    let Some(caption) = caption else {
        return Ok(fields);
    };
    let (caption, entities) = formatted(caption, parse_mode, entities)?;
    if caption.chars().count() > MAX_CAPTION_CHARS {
        return Err(ApiError::bad_request("message caption is too long"));
    }
    if !caption.is_empty() {
        fields.insert("caption".into(), caption.into());
        if let Some(entities) = entities {
            fields.insert("caption_entities".into(), entities);
        }
    }
    Ok(fields)
}

/// Adds the caption and, for the visual kinds, the spoiler and the
/// caption's place.
pub(super) fn add_caption(
    content: &mut Map<String, Value>,
    kind: FileKind,
    caption: Map<String, Value>,
    has_spoiler: bool,
    caption_above: bool,
) {
    let visual = matches!(
        kind,
        FileKind::Photo | FileKind::Video | FileKind::Animation
    );
    if visual && caption_above && caption.contains_key("caption") {
        content.insert("show_caption_above_media".into(), true.into());
    }
    content.extend(caption);
    if visual && has_spoiler {
        content.insert("has_media_spoiler".into(), true.into());
    }
}

/// The file name a URL ends with (`https://x.org/a/report.pdf?v=2` ->
/// `report.pdf`), if its path has one.
fn url_file_name(url: &str) -> Option<String> {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let path = rest.split(['?', '#']).next().unwrap_or("");
    let (_, path) = path.split_once('/')?;
    path.rsplit('/')
        .next()
        .filter(|name| !name.is_empty())
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_their_files() {
        assert_eq!(
            url_file_name("https://x.org/a/report.pdf?v=2#top").as_deref(),
            Some("report.pdf")
        );
        assert_eq!(url_file_name("http://x.org/"), None);
        assert_eq!(url_file_name("http://x.org"), None);
    }

    #[test]
    fn captions_are_formatted_and_bounded() {
        let fields = caption_fields(Some("<b>hi</b>".into()), Some("HTML".into()), None).unwrap();
        assert_eq!(fields["caption"], "hi");
        assert_eq!(fields["caption_entities"][0]["type"], "bold");
        assert!(
            caption_fields(Some(String::new()), None, None)
                .unwrap()
                .is_empty()
        );
        let long = "x".repeat(MAX_CAPTION_CHARS + 1);
        assert_eq!(
            caption_fields(Some(long), None, None)
                .unwrap_err()
                .description,
            "Bad Request: message caption is too long"
        );
    }
}
