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

use super::{Ctx, mirror, rules, texts};
use crate::outbox::{Action, EditKind, Job, Lane, Purpose, queue};
use crate::store::dialogs;
use crate::store::links::{self, Direction};
use crate::telegram::update::Message;

impl Ctx<'_> {
    pub(super) fn on_edit(&mut self, message: &Message, raw: &Value) -> anyhow::Result<()> {
        let chat = message.chat.id;
        let original = i64::from(message.message_id);
        let link = links::by_original(self.tx, &self.bot.name, chat, original)?;
        // The dialog, from the link; without one (the copy may be in flight,
        // its link not recorded yet), from where the message was sent.
        let (direction, dialog) = if rules::is_private(message) {
            let dialog = match &link {
                Some(link) => dialogs::by_id(self.tx, link.dialog)?,
                None => dialogs::by_user(self.tx, &self.bot.name, chat)?,
            };
            (Direction::ToTopic, dialog)
        } else if self.groups()?.contains(&chat) {
            let dialog = match (&link, message.message_thread_id) {
                (Some(link), _) => dialogs::by_id(self.tx, link.dialog)?,
                (None, Some(topic)) if message.is_topic_message => {
                    dialogs::by_topic(self.tx, &self.bot.name, chat, topic)?
                }
                (None, _) => None,
            };
            (Direction::ToUser, dialog)
        } else {
            return Ok(());
        };
        if link
            .as_ref()
            .is_some_and(|link| link.direction != direction)
        {
            return Ok(()); // a mirror's original, say: not this rule's
        }
        let Some(dialog) = dialog else {
            return Ok(());
        };
        let Some((change, params)) = content_edit(raw) else {
            // Nothing an edit call can apply: say so, beside the copy.
            let Some(link) = link else {
                return Ok(());
            };
            let (text, reply_to) = match direction {
                Direction::ToTopic => (
                    texts::user_edit_not_shown(texts::EDIT_CANNOT_FOLLOW, None),
                    link.copy_id,
                ),
                _ => (
                    texts::edit_not_delivered(texts::EDIT_CANNOT_FOLLOW),
                    link.original_id,
                ),
            };
            return self.notify_topic_replying(&dialog, &text, Some(reply_to));
        };
        let (lane, purpose, copy_chat) = match direction {
            Direction::ToTopic => (
                Lane::Topic(dialog.user_id),
                Purpose::UserEdit { dialog: dialog.id },
                dialog.backend_group,
            ),
            _ => (
                Lane::User(dialog.user_id),
                Purpose::OperatorEdit { dialog: dialog.id },
                dialog.user_id,
            ),
        };
        let copy_chat = link.as_ref().map_or(copy_chat, |link| link.copy_chat);
        queue::drop_waiting_edits(self.tx, &self.bot.name, &lane, chat, original)?;
        let job = Job {
            purpose,
            action: Action::EditCopy {
                chat: copy_chat,
                original_chat: chat,
                original_id: original,
                change,
                params,
            },
        };
        self.queue_in(&lane, copy_chat, &job)
    }
}

/// The edit that gives a copy the content of `message` (as sent): its text,
/// or its media with the caption, or (a voice message) its caption, or a
/// live location's new position.
#[must_use]
pub fn content_edit(message: &Value) -> Option<(EditKind, Value)> {
    if message.get("text").is_some_and(Value::is_string) {
        return Some((EditKind::Text, text_params(message)));
    }
    if let Some(location) = message
        .get("location")
        .filter(|l| l.get("live_period").is_some())
    {
        let params = mirror::strip_nulls(json!({
            "latitude": location.get("latitude"),
            "longitude": location.get("longitude"),
            "horizontal_accuracy": location.get("horizontal_accuracy"),
            "heading": location.get("heading"),
            "proximity_alert_radius": location.get("proximity_alert_radius"),
        }));
        return Some((EditKind::LiveLocation, params));
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
        let live = json!({"location": {"latitude": 1.5, "longitude": 2.5, "live_period": 900, "heading": 90}});
        assert_eq!(
            content_edit(&live),
            Some((
                EditKind::LiveLocation,
                json!({"latitude": 1.5, "longitude": 2.5, "heading": 90})
            ))
        );
    }
}
