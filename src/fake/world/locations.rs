//! Locations: `sendLocation`, and what `editMessageLiveLocation`,
//! `stopMessageLiveLocation` (in `edits.rs`) and people moving their live
//! locations (in `people.rs`) share.
//!
//! A message's `location` is in the Bot API's shape: `latitude`,
//! `longitude`, `horizontal_accuracy` (meters, rounded up and held to
//! 1500, as `TDLib` sends it; none if 0), and for a live location
//! `live_period` (seconds from the message's `date`; `0x7FFFFFFF` is
//! forever), `heading` and `proximity_alert_radius` (none if 0).
//!
//! A live location can be moved while `date + live_period` is in the
//! future. The Bot API server drops `live_period`, `heading` and
//! `proximity_alert_radius` from a live location that expired or was
//! stopped; the fake drops them when it is stopped, but a message stored
//! with a live period that ran out keeps showing it (nothing rewrites
//! stored messages as time passes). Either way it can no longer be moved.
//!
//! The checks are `TDLib`'s, with its texts: `latitude is empty` (and
//! `longitude`), a point off the map (`wrong location specified` for a
//! send, `invalid location specified` for an edit), a `live_period` other
//! than 0 outside 60..=86400 and not `0x7FFFFFFF` (`wrong live location
//! period specified`), a `heading` other than 0 outside 1..=360 and a
//! `proximity_alert_radius` outside 0..=100000 (`wrong live location
//! heading specified`, `wrong live location proximity alert radius
//! specified`).

use serde_json::{Map, Value, json};

use super::World;
use super::methods::inline_markup;
use crate::fake::error::ApiError;
use crate::fake::params::Params;

/// A `live_period` for a live location that never expires.
pub(super) const FOREVER: i64 = 0x7FFF_FFFF;
const MIN_LIVE_PERIOD: i64 = 60;
const MAX_LIVE_PERIOD: i64 = 86_400;
/// How far an edit may move the expiry beyond the current one, and into
/// the future (`TDLib`'s "a day" and "the next 90 days").
const MAX_LIVE_PERIOD_GROWTH: i64 = 86_400;
const MAX_LIVE_AHEAD: i64 = 90 * 86_400;
const MAX_ACCURACY: f64 = 1500.0;
const MAX_PROXIMITY_ALERT_RADIUS: i64 = 100_000;

/// A point on the map, as a request gives it.
#[derive(Clone, Copy, Debug)]
pub(super) struct Point {
    pub(super) latitude: f64,
    pub(super) longitude: f64,
    /// Meters; 0 for none.
    pub(super) accuracy: f64,
}

/// The live fields of a location: 0 for none.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Live {
    pub(super) period: i64,
    pub(super) heading: i64,
    pub(super) proximity_alert_radius: i64,
}

impl Point {
    /// `latitude`, `longitude` and `horizontal_accuracy` of a request.
    pub(super) fn from_params(p: &Params) -> Result<Point, ApiError> {
        let latitude = p
            .opt_f64("latitude")?
            .ok_or_else(|| ApiError::bad_request("latitude is empty"))?;
        let longitude = p
            .opt_f64("longitude")?
            .ok_or_else(|| ApiError::bad_request("longitude is empty"))?;
        let accuracy = p.opt_f64("horizontal_accuracy")?.unwrap_or(0.0);
        Ok(Point {
            latitude,
            longitude,
            accuracy,
        })
    }

    /// Whether the point is on the map, as `TDLib` checks it.
    pub(super) fn is_valid(self) -> bool {
        self.latitude.is_finite()
            && self.longitude.is_finite()
            && self.latitude.abs() <= 90.0
            && self.longitude.abs() <= 180.0
    }
}

impl Live {
    /// `live_period`, `heading` and `proximity_alert_radius` of a request
    /// (0 for each one missing), not checked yet.
    pub(super) fn from_params(p: &Params) -> Result<Live, ApiError> {
        Ok(Live {
            period: p.opt_i64("live_period")?.unwrap_or(0),
            heading: p.opt_i64("heading")?.unwrap_or(0),
            proximity_alert_radius: p.opt_i64("proximity_alert_radius")?.unwrap_or(0),
        })
    }

    /// Checks the fields as `TDLib` checks a send's; the period only if
    /// `period_too` (an edit's depends on the message: see
    /// [`edited_live_period`]).
    pub(super) fn check(self, period_too: bool) -> Result<(), ApiError> {
        let period_ok = self.period == 0
            || self.period == FOREVER
            || (MIN_LIVE_PERIOD..=MAX_LIVE_PERIOD).contains(&self.period);
        if period_too && !period_ok {
            return Err(wrong_live_period());
        }
        if self.heading != 0 && !(1..=360).contains(&self.heading) {
            return Err(ApiError::bad_request(
                "wrong live location heading specified",
            ));
        }
        if !(0..=MAX_PROXIMITY_ALERT_RADIUS).contains(&self.proximity_alert_radius) {
            return Err(ApiError::bad_request(
                "wrong live location proximity alert radius specified",
            ));
        }
        Ok(())
    }
}

impl World {
    /// `sendLocation`: a point (`latitude`, `longitude`,
    /// `horizontal_accuracy`), live if `live_period` is given (with
    /// `heading` and `proximity_alert_radius`), with the keyboard, topic
    /// and reply `sendMessage` takes.
    pub(super) fn send_location(&mut self, bot: i64, p: &Params) -> Result<Value, ApiError> {
        let chat_id = p.chat_id("chat_id")?;
        let point = Point::from_params(p)?;
        let live = Live::from_params(p)?;
        if !point.is_valid() {
            return Err(ApiError::bad_request("wrong location specified"));
        }
        live.check(true)?;
        let (chat, thread) = self.destination(bot, chat_id, p.opt_i64("message_thread_id")?)?;
        let reply = self.reply_target(chat, p)?;
        let mut content = Map::new();
        content.insert("location".into(), location_json(point, live));
        if let Some(markup) = inline_markup(p)? {
            content.insert("reply_markup".into(), markup);
        }
        let from = self.bot_user_json(bot);
        Ok(self.post(chat, Some(from), thread, reply, content))
    }
}

/// A `location` in the Bot API's shape; static if `live.period` is 0.
pub(super) fn location_json(point: Point, live: Live) -> Value {
    let mut location = json!({ "latitude": point.latitude, "longitude": point.longitude });
    if point.accuracy.is_finite() && point.accuracy > 0.0 {
        location["horizontal_accuracy"] = point.accuracy.min(MAX_ACCURACY).ceil().into();
    }
    if live.period != 0 {
        location["live_period"] = live.period.into();
        if live.heading > 0 {
            location["heading"] = live.heading.into();
        }
        if live.proximity_alert_radius > 0 {
            location["proximity_alert_radius"] = live.proximity_alert_radius.into();
        }
    }
    location
}

/// The live period of the live location `message` shows, if it can still
/// be moved at `now`.
pub(super) fn live_period(message: &Map<String, Value>, now: i64) -> Option<i64> {
    let period = message.get("location")?.get("live_period")?.as_i64()?;
    let date = message.get("date")?.as_i64()?;
    (period == FOREVER || now.saturating_sub(date) < period).then_some(period)
}

/// The live period after an edit asking for `requested` (0 keeps
/// `current`): `0x7FFFFFFF`, or at most a day more than `current`, ending
/// in the next 90 days.
pub(super) fn edited_live_period(
    requested: i64,
    current: i64,
    date: i64,
    now: i64,
) -> Result<i64, ApiError> {
    if requested == 0 || requested == FOREVER {
        return Ok(if requested == 0 { current } else { FOREVER });
    }
    let grows_too_much =
        current != FOREVER && requested > current.saturating_add(MAX_LIVE_PERIOD_GROWTH);
    let ends = date.saturating_add(requested);
    if requested < 0 || grows_too_much || ends <= now || ends > now.saturating_add(MAX_LIVE_AHEAD) {
        return Err(wrong_live_period());
    }
    Ok(requested)
}

/// A person moves the live location `message` shows to a new point, at
/// `now`: it keeps its accuracy, live period, heading and alert radius.
///
/// # Panics
/// If the message shows no live location that can still be moved, or the
/// point is off the map (bugs in the test).
pub(super) fn move_live_location(message: &mut Value, latitude: f64, longitude: f64, now: i64) {
    let point = Point {
        latitude,
        longitude,
        accuracy: 0.0,
    };
    assert!(
        point.is_valid(),
        "fake Telegram: ({latitude}, {longitude}) is not on the map"
    );
    let Value::Object(fields) = message else {
        panic!("fake Telegram: a message is not a JSON object");
    };
    assert!(
        live_period(fields, now).is_some(),
        "fake Telegram: message {} shows no live location that can still move",
        fields.get("message_id").unwrap_or(&Value::Null)
    );
    if let Some(Value::Object(location)) = fields.get_mut("location") {
        location.insert("latitude".into(), latitude.into());
        location.insert("longitude".into(), longitude.into());
    }
    fields.insert("edit_date".into(), now.into());
}

fn wrong_live_period() -> ApiError {
    ApiError::bad_request("wrong live location period specified")
}

#[cfg(test)]
impl World {
    /// Moves the `date` of message `id` of the chat of `bot` with `chat_id`
    /// (a user) or of group `chat_id` back by `seconds`, for tests of live
    /// periods that ran out.
    ///
    /// # Panics
    /// If there is no such message.
    pub(in crate::fake) fn backdate_message(
        &mut self,
        bot: i64,
        chat_id: i64,
        id: i64,
        seconds: i64,
    ) {
        let messages = if chat_id > 0 {
            self.private_chats
                .get_mut(&(bot, chat_id))
                .map(|chat| &mut chat.messages)
        } else {
            self.groups
                .get_mut(&chat_id)
                .map(|group| &mut group.messages)
        };
        let message = super::message_index(id)
            .and_then(|i| messages?.get_mut(i))
            .unwrap_or_else(|| panic!("fake Telegram: chat {chat_id} has no message {id}"));
        let date = message["date"].as_i64().unwrap_or(0);
        message["date"] = (date - seconds).into();
    }
}
