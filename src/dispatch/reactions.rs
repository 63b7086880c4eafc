//! Reactions, both ways: an operator's reaction on a user's message in the
//! topic is set on the user's original, and a user's reaction on an
//! operator's message (its copy in their chat) shows on the operator's
//! original in the topic. The bot sets it, through the message links; a
//! bot has one reaction per message, so the newest emoji of the person's is
//! the one shown, and taking a reaction back removes it.

use serde_json::Value;

use super::Ctx;
use crate::outbox::{Action, Job, Lane, Purpose};
use crate::store::dialogs;
use crate::store::links::{self, Direction};
use crate::telegram::update::{ChatKind, ReactionChange};

impl Ctx<'_> {
    pub(super) fn on_reaction(&mut self, change: &ReactionChange) -> anyhow::Result<()> {
        if change.user.as_ref().is_none_or(|user| user.is_bot) {
            return Ok(());
        }
        let chat = change.chat.id;
        // The reacted message must be a copy made by switchboard: of a
        // user's message in a topic, or of an operator's in a user's chat.
        let copied = if change.chat.kind == ChatKind::Private {
            Direction::ToUser
        } else if self.groups()?.contains(&chat) {
            Direction::ToTopic
        } else {
            return Ok(());
        };
        let Some(link) = links::by_copy(self.tx, &self.bot.name, chat, change.message_id)?
            .filter(|link| link.direction == copied)
        else {
            return Ok(());
        };
        let Some(dialog) = dialogs::by_id(self.tx, link.dialog)? else {
            return Ok(());
        };
        let lane = match copied {
            Direction::ToUser => Lane::Topic(dialog.user_id),
            _ => Lane::User(dialog.user_id),
        };
        let job = Job {
            purpose: Purpose::Reaction { dialog: dialog.id },
            action: Action::React {
                chat: link.original_chat,
                message_id: link.original_id,
                reaction: one_reaction(&change.new_reaction),
            },
        };
        self.queue_in(&lane, link.original_chat, &job)
    }
}

/// The reaction a bot can set for a person's (a bot has one): their newest
/// emoji or custom emoji, or none.
fn one_reaction(reactions: &Value) -> Value {
    let newest = reactions.as_array().and_then(|list| {
        list.iter().rev().find(|r| {
            matches!(
                r.get("type").and_then(Value::as_str),
                Some("emoji" | "custom_emoji")
            )
        })
    });
    Value::Array(newest.cloned().into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_bot_sets_one_reaction() {
        let several = json!([{"type": "emoji", "emoji": "👍"}, {"type": "paid"}, {"type": "emoji", "emoji": "🔥"}]);
        assert_eq!(
            one_reaction(&several),
            json!([{"type": "emoji", "emoji": "🔥"}])
        );
        assert_eq!(one_reaction(&json!([{"type": "paid"}])), json!([]));
        assert_eq!(one_reaction(&json!([])), json!([]));
        assert_eq!(one_reaction(&json!("odd")), json!([]));
    }
}
