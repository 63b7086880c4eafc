//! Files: the store of every file the fake knows (uploaded by bots, sent by
//! URL, or sent by people), `getFile`, and the downloads it gives a path to.
//!
//! A file is kept under its `file_id` with its `file_unique_id`, its size,
//! its bytes and what a message shows of it (the `photo` list, the
//! `document` object, ...), so that sending it again by `file_id` shows the
//! same file. Uploaded bytes are kept as sent; a file whose bytes the fake
//! never saw (a person's, one sent by URL, the smaller sizes of a photo) is
//! `file_size` made-up bytes. A photo is one file per size, as Telegram's
//! are: each size has its own `file_id` and `file_unique_id`, and the largest
//! holds the uploaded bytes.
//!
//! Ids look like Telegram's (`AgAC..` for a photo, `BQAC..` for a document,
//! ...) and every bot may use every id (Telegram's ids are per bot). A path
//! from `getFile` (`photos/file_0.jpg`, numbered per bot, the same for the
//! same file) downloads only with the token of the bot it was given to.

use std::collections::HashMap;

use axum::body::Bytes;
use serde_json::{Map, Value, json};

use super::{World, random_string};
use crate::fake::FakeFile;
use crate::fake::error::ApiError;
use crate::fake::params::Params;

/// The largest file a bot may download (`getFile` refuses bigger ones), as
/// the Bot API server counts it: `20 << 20` bytes.
pub(super) const MAX_DOWNLOAD_BYTES: u64 = 20 << 20;
/// Size of a file the fake makes up without being told one.
const MADE_UP_SIZE: u64 = 51_200;

/// Which kind of file: how messages show it and how Telegram names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(in crate::fake) enum FileKind {
    Photo,
    Document,
    Video,
    Audio,
    Voice,
    Animation,
    Sticker,
    VideoNote,
}

impl FileKind {
    /// Every kind, in the order a message's fields are looked at.
    pub(super) const ALL: [FileKind; 8] = [
        FileKind::Photo,
        FileKind::Animation,
        FileKind::Document,
        FileKind::Video,
        FileKind::Audio,
        FileKind::Voice,
        FileKind::Sticker,
        FileKind::VideoNote,
    ];

    /// The kind of file a message shows (an animation, not the document
    /// Telegram shows it as too), if any.
    pub(super) fn of_message(message: &Map<String, Value>) -> Option<FileKind> {
        FileKind::ALL
            .into_iter()
            .find(|kind| message.get(kind.field()).is_some())
    }

    /// The message field that shows it, also the send method's parameter.
    pub(super) fn field(self) -> &'static str {
        match self {
            FileKind::Photo => "photo",
            FileKind::Document => "document",
            FileKind::Video => "video",
            FileKind::Audio => "audio",
            FileKind::Voice => "voice",
            FileKind::Animation => "animation",
            FileKind::Sticker => "sticker",
            FileKind::VideoNote => "video_note",
        }
    }

    /// `TDLib`'s name, in `can't use file of type Document as Photo`.
    fn type_name(self) -> &'static str {
        match self {
            FileKind::Photo => "Photo",
            FileKind::Document => "Document",
            FileKind::Video => "Video",
            FileKind::Audio => "Audio",
            FileKind::Voice => "VoiceNote",
            FileKind::Animation => "Animation",
            FileKind::Sticker => "Sticker",
            FileKind::VideoNote => "VideoNote",
        }
    }

    /// How `there is no .. in the request` names it.
    pub(super) fn missing(self) -> ApiError {
        let what = match self {
            FileKind::VideoNote => "video note",
            other => other.field(),
        };
        ApiError::bad_request(&format!("there is no {what} in the request"))
    }

    /// How Telegram's `file_id`s of this kind start.
    fn id_prefix(self) -> &'static str {
        match self {
            FileKind::Photo => "AgAC",
            FileKind::Document => "BQAC",
            FileKind::Video => "BAAC",
            FileKind::Audio => "CQAC",
            FileKind::Voice => "AwAC",
            FileKind::Animation => "CgAC",
            FileKind::Sticker => "CAAC",
            FileKind::VideoNote => "DQAC",
        }
    }

    /// The folder of its `getFile` path.
    fn folder(self) -> &'static str {
        match self {
            FileKind::Photo => "photos",
            FileKind::Document => "documents",
            FileKind::Video => "videos",
            FileKind::Audio => "music",
            FileKind::Voice => "voice",
            FileKind::Animation => "animations",
            FileKind::Sticker => "stickers",
            FileKind::VideoNote => "video_notes",
        }
    }

    /// The extension of its path when its name has none.
    fn extension(self) -> Option<&'static str> {
        match self {
            FileKind::Photo => Some("jpg"),
            FileKind::Document => None,
            FileKind::Video | FileKind::Animation | FileKind::VideoNote => Some("mp4"),
            FileKind::Audio => Some("mp3"),
            FileKind::Voice => Some("oga"),
            FileKind::Sticker => Some("webp"),
        }
    }

    /// The MIME type it gets when its name says none.
    fn mime_type(self) -> &'static str {
        match self {
            FileKind::Photo => "image/jpeg",
            FileKind::Document => "application/octet-stream",
            FileKind::Video | FileKind::Animation | FileKind::VideoNote => "video/mp4",
            FileKind::Audio => "audio/mpeg",
            FileKind::Voice => "audio/ogg",
            FileKind::Sticker => "image/webp",
        }
    }

    /// Whether a `file_id` of kind `self` may be sent as `wanted`: a photo
    /// only as a photo, the other kinds (all documents to Telegram's
    /// servers) as any other kind, and shown as what they are.
    pub(super) fn check_sent_as(self, wanted: FileKind) -> Result<(), ApiError> {
        if (self == FileKind::Photo) == (wanted == FileKind::Photo) {
            return Ok(());
        }
        Err(ApiError::bad_request(&format!(
            "can't use file of type {} as {}",
            self.type_name(),
            wanted.type_name()
        )))
    }
}

/// A fresh `(file_id, file_unique_id)` of `kind`, shaped like Telegram's.
pub(in crate::fake) fn new_file_ids(kind: FileKind) -> (String, String) {
    let unique_prefix = if kind == FileKind::Photo {
        "AQAD"
    } else {
        "AgAD"
    };
    (
        format!("{}{}", kind.id_prefix(), random_string(44)),
        format!("{unique_prefix}{}", random_string(12)),
    )
}

/// Every file the fake knows, and the paths `getFile` gave out.
#[derive(Default)]
pub(super) struct Files {
    by_id: HashMap<String, StoredFile>,
    /// (bot, path) -> `file_id`, for downloads.
    paths: HashMap<(i64, String), String>,
    /// (bot, `file_unique_id`) -> path: the same file keeps its path.
    path_of: HashMap<(i64, String), String>,
    /// Paths given to each bot so far, to number the next.
    path_count: HashMap<i64, u64>,
}

struct StoredFile {
    kind: FileKind,
    unique_id: String,
    size: u64,
    /// The uploaded bytes; `None`: `size` made-up bytes.
    bytes: Option<Bytes>,
    file_name: Option<String>,
    mime_type: Option<String>,
    /// The message fields that show it (`{"photo":[..]}`, `{"document":{..}}`).
    shown: Map<String, Value>,
}

/// A new file's content and what describes it.
pub(super) struct NewFile {
    pub(super) kind: FileKind,
    /// Uploaded bytes, or `None` for made-up ones (of a size the fake picks).
    pub(super) bytes: Option<Bytes>,
    pub(super) file_name: Option<String>,
    /// The MIME type the upload came with, if its name says none.
    pub(super) mime_type: Option<String>,
    pub(super) meta: Meta,
}

/// What a send method or an `InputMedia` says about a file besides the file.
#[derive(Clone, Debug, Default)]
pub(super) struct Meta {
    pub(super) width: Option<i64>,
    pub(super) height: Option<i64>,
    pub(super) duration: Option<i64>,
    pub(super) performer: Option<String>,
    pub(super) title: Option<String>,
}

impl Meta {
    pub(super) fn from_params(p: &Params) -> Result<Meta, ApiError> {
        Ok(Meta {
            width: p.opt_i64("width")?,
            height: p.opt_i64("height")?,
            duration: p.opt_i64("duration")?,
            performer: p.opt_str("performer")?,
            title: p.opt_str("title")?,
        })
    }

    /// From an `InputMedia` object (wrong types are ignored, as Telegram clamps them).
    pub(super) fn from_json(media: &Map<String, Value>) -> Meta {
        let int = |name: &str| media.get(name).and_then(crate::fake::params::value_as_i64);
        let text = |name: &str| media.get(name).and_then(Value::as_str).map(str::to_owned);
        Meta {
            width: int("width"),
            height: int("height"),
            duration: int("duration"),
            performer: text("performer"),
            title: text("title"),
        }
    }
}

impl Files {
    fn get(&self, file_id: &str) -> Option<&StoredFile> {
        self.by_id.get(file_id)
    }

    /// The kind of a known `file_id`.
    pub(super) fn kind_of(&self, file_id: &str) -> Option<FileKind> {
        self.get(file_id).map(|f| f.kind)
    }

    /// The message fields that show a known `file_id`.
    pub(super) fn shown(&self, file_id: &str) -> Option<Map<String, Value>> {
        self.get(file_id).map(|f| f.shown.clone())
    }

    /// Stores a new file and returns the message fields that show it.
    pub(super) fn add(&mut self, new: NewFile) -> Map<String, Value> {
        let size = new.bytes.as_ref().map_or(MADE_UP_SIZE, |b| b.len() as u64);
        if new.kind == FileKind::Photo {
            return self.add_photo(new.bytes.as_ref(), size);
        }
        let kind = new.kind;
        let (file_id, unique_id) = new_file_ids(kind);
        let mime_type = new
            .file_name
            .as_deref()
            .and_then(extension)
            .and_then(mime_for_extension)
            .map(str::to_owned)
            .or(new.mime_type.filter(|m| !m.is_empty()))
            .unwrap_or_else(|| kind.mime_type().to_owned());
        let mut object = Map::new();
        object.insert("file_id".into(), file_id.clone().into());
        object.insert("file_unique_id".into(), unique_id.clone().into());
        let meta = new.meta;
        if matches!(kind, FileKind::Video | FileKind::Animation) {
            object.insert("width".into(), meta.width.unwrap_or(1280).into());
            object.insert("height".into(), meta.height.unwrap_or(720).into());
        }
        if !matches!(kind, FileKind::Document | FileKind::Sticker) {
            object.insert("duration".into(), meta.duration.unwrap_or(0).into());
        }
        if kind == FileKind::Audio {
            for (field, value) in [("performer", meta.performer), ("title", meta.title)] {
                if let Some(value) = value.filter(|v| !v.is_empty()) {
                    object.insert(field.into(), value.into());
                }
            }
        }
        if kind != FileKind::Voice {
            if let Some(name) = &new.file_name {
                object.insert("file_name".into(), name.clone().into());
            }
        }
        object.insert("mime_type".into(), mime_type.clone().into());
        object.insert("file_size".into(), size.into());
        let mut shown = Map::new();
        if kind == FileKind::Animation {
            // For older clients, Telegram shows an animation as a document too.
            let document: Map<String, Value> = object
                .iter()
                .filter(|(k, _)| !matches!(k.as_str(), "width" | "height" | "duration"))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            shown.insert("document".into(), document.into());
        }
        shown.insert(kind.field().into(), object.into());
        self.by_id.insert(
            file_id,
            StoredFile {
                kind,
                unique_id,
                size,
                bytes: new.bytes,
                file_name: new.file_name,
                mime_type: Some(mime_type),
                shown: shown.clone(),
            },
        );
        shown
    }

    /// A photo in the sizes Telegram makes of it (90, 320, 800 and 1280
    /// pixels on the longer side, those smaller than the original, then the
    /// original up to 2560); the largest holds the uploaded bytes.
    fn add_photo(&mut self, bytes: Option<&Bytes>, size: u64) -> Map<String, Value> {
        let (width, height) = bytes.and_then(|b| image_size(b)).unwrap_or((1280, 853));
        let longer = width.max(height).max(1);
        let scaled = |side: u64| {
            let (w, h) = (width * side / longer, height * side / longer);
            (w.max(1), h.max(1))
        };
        let mut sizes: Vec<(u64, u64)> = [90, 320, 800, 1280]
            .into_iter()
            .filter(|&side| side < longer)
            .map(scaled)
            .collect();
        sizes.push(if longer > 2560 {
            scaled(2560)
        } else {
            (width, height)
        });
        let full_area = sizes.last().map_or(1, |(w, h)| (w * h).max(1));
        let largest = sizes.len() - 1;
        let mut entries = Vec::new();
        let mut shown_sizes = Vec::new();
        for (index, (w, h)) in sizes.into_iter().enumerate() {
            let (file_id, unique_id) = new_file_ids(FileKind::Photo);
            let (content, file_size) = if index == largest {
                (bytes.cloned(), size)
            } else {
                (None, (size * w * h / full_area).max(1))
            };
            shown_sizes.push(json!({
                "file_id": file_id, "file_unique_id": unique_id,
                "width": w, "height": h, "file_size": file_size,
            }));
            entries.push((file_id, unique_id, content, file_size));
        }
        let shown: Map<String, Value> = [("photo".to_owned(), Value::Array(shown_sizes))]
            .into_iter()
            .collect();
        for (file_id, unique_id, content, file_size) in entries {
            let stored = StoredFile {
                kind: FileKind::Photo,
                unique_id,
                size: file_size,
                bytes: content,
                file_name: None,
                mime_type: Some(FileKind::Photo.mime_type().to_owned()),
                shown: shown.clone(),
            };
            self.by_id.insert(file_id, stored);
        }
        shown
    }

    /// Remembers the files a person's message shows, unless known: made-up
    /// bytes of the `file_size` it gives, so that bots can download them.
    pub(super) fn register_shown(&mut self, content: &Map<String, Value>) {
        for kind in FileKind::ALL {
            let Some(value) = content.get(kind.field()) else {
                continue;
            };
            let mut shown = Map::new();
            shown.insert(kind.field().into(), value.clone());
            if kind == FileKind::Animation {
                if let Some(document) = content.get("document") {
                    shown.insert("document".into(), document.clone());
                }
            }
            let objects = match value {
                Value::Array(sizes) => sizes.iter().collect(),
                object => vec![object],
            };
            for object in objects {
                let Some(file_id) = object["file_id"].as_str() else {
                    continue;
                };
                if self.by_id.contains_key(file_id) {
                    continue;
                }
                let unique_id = object["file_unique_id"]
                    .as_str()
                    .map_or_else(|| new_file_ids(kind).1, str::to_owned);
                let text = |name: &str| object[name].as_str().map(str::to_owned);
                let stored = StoredFile {
                    kind,
                    unique_id,
                    size: object["file_size"].as_u64().unwrap_or(MADE_UP_SIZE),
                    bytes: None,
                    file_name: text("file_name"),
                    mime_type: text("mime_type"),
                    shown: shown.clone(),
                };
                self.by_id.insert(file_id.to_owned(), stored);
            }
        }
    }

    /// The content of a known file: its bytes, or the made-up ones.
    pub(super) fn content(&self, file_id: &str) -> Option<Bytes> {
        self.get(file_id).map(StoredFile::content)
    }

    pub(super) fn info(&self, file_id: &str) -> Option<FakeFile> {
        self.get(file_id).map(|file| FakeFile {
            file_id: file_id.to_owned(),
            file_unique_id: file.unique_id.clone(),
            kind: file.kind.field(),
            file_size: file.size,
            file_name: file.file_name.clone(),
            mime_type: file.mime_type.clone(),
            uploaded: file.bytes.is_some(),
        })
    }
}

impl StoredFile {
    fn content(&self) -> Bytes {
        if let Some(bytes) = &self.bytes {
            return bytes.clone();
        }
        // Made up, but the same on every download: the unique id, repeated.
        let size = usize::try_from(self.size).unwrap_or(usize::MAX);
        let made_up: Vec<u8> = self.unique_id.bytes().cycle().take(size).collect();
        Bytes::from(made_up)
    }
}

impl World {
    /// `getFile`: a path to download the file from, valid for this bot.
    pub(super) fn get_file(&mut self, bot: i64, p: &Params) -> Result<Value, ApiError> {
        let file_id = p.opt_str("file_id")?.unwrap_or_default();
        if file_id.is_empty() {
            return Err(ApiError::bad_request("file_id not specified"));
        }
        let files = &mut self.files;
        let file = files
            .by_id
            .get(&file_id)
            .ok_or_else(|| ApiError::bad_request("invalid file_id"))?;
        if file.size > MAX_DOWNLOAD_BYTES {
            return Err(ApiError::bad_request("file is too big"));
        }
        let key = (bot, file.unique_id.clone());
        let path = if let Some(path) = files.path_of.get(&key) {
            path.clone()
        } else {
            let count = files.path_count.entry(bot).or_default();
            let number = *count;
            *count += 1;
            let extension = file
                .file_name
                .as_deref()
                .and_then(extension)
                .or(file.kind.extension());
            let path = match extension {
                Some(ext) => format!("{}/file_{number}.{ext}", file.kind.folder()),
                None => format!("{}/file_{number}", file.kind.folder()),
            };
            files.path_of.insert(key, path.clone());
            path
        };
        let result = json!({
            "file_id": file_id.clone(),
            "file_unique_id": file.unique_id,
            "file_size": file.size,
            "file_path": path,
        });
        files.paths.insert((bot, path), file_id);
        Ok(result)
    }

    /// A download by the bot with `token` of a path its `getFile` gave:
    /// the bytes and their `Content-Type`.
    pub(in crate::fake) fn download(
        &self,
        token: &str,
        path: &str,
    ) -> Option<(Bytes, &'static str)> {
        let bot = self.bot_for_token(token)?;
        let file_id = self.files.paths.get(&(bot, path.to_owned()))?;
        let file = self.files.get(file_id)?;
        let content_type = extension(path)
            .and_then(mime_for_extension)
            .unwrap_or("application/octet-stream");
        Some((file.content(), content_type))
    }

    pub(in crate::fake) fn file_content(&self, file_id: &str) -> Option<Bytes> {
        self.files.content(file_id)
    }

    pub(in crate::fake) fn file_info(&self, file_id: &str) -> Option<FakeFile> {
        self.files.info(file_id)
    }
}

/// The extension of a file name or path, lowercase.
fn extension(name: &str) -> Option<&str> {
    let base = name.rsplit('/').next().unwrap_or(name);
    let (stem, ext) = base.rsplit_once('.')?;
    (!stem.is_empty() && !ext.is_empty() && ext.len() <= 8 && ext.is_ascii()).then_some(ext)
}

/// The MIME type of a few common extensions (Telegram knows many more).
fn mime_for_extension(ext: &str) -> Option<&'static str> {
    let mime = match ext.to_ascii_lowercase().as_str() {
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "pdf" => "application/pdf",
        "zip" => "application/zip",
        "json" => "application/json",
        "txt" => "text/plain",
        "csv" => "text/csv",
        "html" | "htm" => "text/html",
        "mp4" => "video/mp4",
        "mov" => "video/quicktime",
        "webm" => "video/webm",
        "mp3" => "audio/mpeg",
        "m4a" => "audio/mp4",
        "ogg" | "oga" => "audio/ogg",
        "wav" => "audio/x-wav",
        _ => return None,
    };
    Some(mime)
}

/// Width and height of a PNG, GIF or JPEG image, from its header.
fn image_size(bytes: &[u8]) -> Option<(u64, u64)> {
    let be16 = |at: usize| {
        Some(u64::from(u16::from_be_bytes([
            *bytes.get(at)?,
            *bytes.get(at + 1)?,
        ])))
    };
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") && bytes.get(12..16) == Some(b"IHDR") {
        let be32 = |at: usize| {
            let word: [u8; 4] = bytes.get(at..at + 4)?.try_into().ok()?;
            Some(u64::from(u32::from_be_bytes(word)))
        };
        return Some((be32(16)?, be32(20)?));
    }
    if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        let le16 = |at: usize| {
            Some(u64::from(u16::from_le_bytes([
                *bytes.get(at)?,
                *bytes.get(at + 1)?,
            ])))
        };
        return Some((le16(6)?, le16(8)?));
    }
    if !bytes.starts_with(&[0xFF, 0xD8]) {
        return None;
    }
    // JPEG: walk the segments to the first start-of-frame.
    let mut at = 2;
    loop {
        while *bytes.get(at)? != 0xFF {
            at += 1;
        }
        while *bytes.get(at)? == 0xFF {
            at += 1;
        }
        let marker = *bytes.get(at)?;
        at += 1;
        match marker {
            0xD8 | 0xD0..=0xD7 | 0x01 => {}
            0xD9 | 0xDA => return None,
            0xC0..=0xCF if !matches!(marker, 0xC4 | 0xC8 | 0xCC) => {
                return Some((be16(at + 5)?, be16(at + 3)?));
            }
            _ => at += usize::try_from(be16(at)?).ok()?,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_headers_give_the_size() {
        let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
        png.extend_from_slice(&640_u32.to_be_bytes());
        png.extend_from_slice(&480_u32.to_be_bytes());
        assert_eq!(image_size(&png), Some((640, 480)));
        assert_eq!(image_size(b"GIF89a\x20\x03\x58\x02rest"), Some((800, 600)));
        // SOI, an APP0 segment of 4 bytes, then SOF0: length, precision, height 300, width 400.
        let jpeg = [
            0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x04, 0xAA, 0xBB, 0xFF, 0xC0, 0x00, 0x11, 0x08, 0x01,
            0x2C, 0x01, 0x90,
        ];
        assert_eq!(image_size(&jpeg), Some((400, 300)));
        assert_eq!(image_size(b"not an image"), None);
        assert_eq!(image_size(&[0xFF, 0xD8, 0xFF]), None);
    }

    #[test]
    fn a_photo_gets_telegrams_sizes_and_the_largest_keeps_the_bytes() {
        let mut files = Files::default();
        let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
        png.extend_from_slice(&1000_u32.to_be_bytes());
        png.extend_from_slice(&500_u32.to_be_bytes());
        let bytes = Bytes::from(png.clone());
        let shown = files.add(NewFile {
            kind: FileKind::Photo,
            bytes: Some(bytes),
            file_name: Some("a.png".into()),
            mime_type: None,
            meta: Meta::default(),
        });
        let sizes: Vec<(u64, u64)> = shown["photo"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| (s["width"].as_u64().unwrap(), s["height"].as_u64().unwrap()))
            .collect();
        assert_eq!(sizes, [(90, 45), (320, 160), (800, 400), (1000, 500)]);
        let largest = shown["photo"][3]["file_id"].as_str().unwrap();
        assert!(largest.starts_with("AgAC"));
        assert_eq!(files.content(largest).unwrap(), png);
        let smallest = shown["photo"][0]["file_id"].as_str().unwrap();
        let made_up = files.content(smallest).unwrap();
        assert_eq!(
            Some(made_up.len() as u64),
            shown["photo"][0]["file_size"].as_u64()
        );
        assert_eq!(files.shown(smallest), Some(shown));
    }

    #[test]
    fn photos_and_documents_do_not_stand_in_for_each_other() {
        assert!(FileKind::Video.check_sent_as(FileKind::Document).is_ok());
        assert!(
            FileKind::Document
                .check_sent_as(FileKind::Animation)
                .is_ok()
        );
        assert_eq!(
            FileKind::Document
                .check_sent_as(FileKind::Photo)
                .unwrap_err()
                .description,
            "Bad Request: can't use file of type Document as Photo"
        );
        assert_eq!(
            FileKind::Photo
                .check_sent_as(FileKind::Voice)
                .unwrap_err()
                .description,
            "Bad Request: can't use file of type Photo as VoiceNote"
        );
        assert_eq!(
            FileKind::VideoNote.missing().description,
            "Bad Request: there is no video note in the request"
        );
    }

    #[test]
    fn names_give_extensions_and_types() {
        assert_eq!(extension("report.PDF"), Some("PDF"));
        assert_eq!(mime_for_extension("PDF"), Some("application/pdf"));
        assert_eq!(extension("documents/file_3"), None);
        assert_eq!(extension(".profile"), None);
        assert_eq!(extension("photos/file_0.jpg"), Some("jpg"));
    }
}
