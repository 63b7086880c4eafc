//! Edits, both ways: a user's edit of a message changes its copy in the
//! topic, and an operator's edit in the topic changes the user's copy
//! (`editMessageText`; for media, `editMessageMedia` with the same file and
//! the new caption, or `editMessageCaption` where Telegram takes no media).
//!
//! The copy is found through the message links. A message edited before
//! its copy was made needs nothing: the copy shows it as it is then. Edits
//! of one message go in order, in the lane of their direction, and a newer
//! edit replaces those of the same message still waiting there: only the
//! latest matters. An edit Telegram refuses becomes a note in the topic
//! (with the new text, for a user's edit), never a silent drop.

use serde_json::{Value, json};

use super::{Ctx, mirror, rules};
use crate::outbox::{Action, EditKind, Job, Lane, Purpose, queue};
use crate::store::dialogs;
use crate::store::links::{self, Direction};
use crate::telegram::update::Message;

impl Ctx<'_> {
    pub(super) fn on_edit(&mut self, message: &Message, raw: &Value) -> anyhow::Result<()> {
        let chat = message.chat.id;
        let direction = if rules::is_private(message) {
            Direction::ToTopic
        } else if self.groups()?.contains(&chat) {
            Direction::ToUser
        } else {
            return Ok(());
        };
        let Some(link) =
            links::by_original(self.tx, &self.bot.name, chat, i64::from(message.message_id))?
                .filter(|link| link.direction == direction)
        else {
            return Ok(());
        };
        let Some(dialog) = dialogs::by_id(self.tx, link.dialog)? else {
            return Ok(());
        };
        let Some((change, params)) = content_edit(raw) else {
            return Ok(());
        };
        let (lane, purpose) = match direction {
            Direction::ToTopic => (
                Lane::Topic(dialog.user_id),
                Purpose::UserEdit { dialog: dialog.id },
            ),
            _ => (
                Lane::User(dialog.user_id),
                Purpose::OperatorEdit { dialog: dialog.id },
            ),
        };
        queue::drop_waiting_edits(self.tx, &self.bot.name, &lane, link.copy_chat, link.copy_id)?;
        let job = Job {
            purpose,
            action: Action::Edit {
                chat: link.copy_chat,
                message_id: link.copy_id,
                change,
                params,
                keyboard: None,
            },
        };
        self.queue_in(&lane, link.copy_chat, &job)
    }
}

/// The edit that gives a copy the content of `message` (as sent): its text,
/// or its media with the caption, or (a voice message) its caption.
#[must_use]
pub fn content_edit(message: &Value) -> Option<(EditKind, Value)> {
    if message.get("text").is_some_and(Value::is_string) {
        return Some((EditKind::Text, text_params(message)));
    }
    if let Some(media) = mirror::input_media(message) {
        return Some((EditKind::Media, json!({ "media": media })));
    }
    message
        .get("caption")
        .is_some()
        .then(|| (EditKind::Caption, caption_params(message)))
}

/// `editMessageText`'s parameters for the text of `message`.
#[must_use]
pub fn text_params(message: &Value) -> Value {
    mirror::strip_nulls(json!({"text": message["text"], "entities": message.get("entities")}))
}

/// `editMessageCaption`'s parameters for the caption of `message` (none
/// removes it).
#[must_use]
pub fn caption_params(message: &Value) -> Value {
    mirror::strip_nulls(json!({
        "caption": message.get("caption"),
        "caption_entities": message.get("caption_entities"),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_edit_takes_the_content_as_it_is_now() {
        let text = json!({"text": "new", "entities": [{"type": "bold", "offset": 0, "length": 3}]});
        assert_eq!(
            content_edit(&text),
            Some((
                EditKind::Text,
                json!({"text": "new", "entities": [{"type": "bold", "offset": 0, "length": 3}]})
            ))
        );
        let photo = json!({"photo": [{"file_id": "p"}], "caption": "c"});
        assert_eq!(
            content_edit(&photo),
            Some((
                EditKind::Media,
                json!({"media": {"type": "photo", "media": "p", "caption": "c"}})
            ))
        );
        let voice = json!({"voice": {"file_id": "v"}, "caption": "said"});
        assert_eq!(
            content_edit(&voice),
            Some((EditKind::Caption, json!({"caption": "said"})))
        );
        assert_eq!(content_edit(&json!({"location": {}})), None);
    }
}
