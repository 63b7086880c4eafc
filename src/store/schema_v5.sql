-- Updates offered to an existing bot (proxy and forward mode) until it has
-- taken them: confirmed by a getUpdates offset above their id, or delivered
-- to its webhook. Kept at most a day, like Telegram keeps its own.
CREATE TABLE offered_updates (
    id        INTEGER PRIMARY KEY,
    bot       TEXT NOT NULL,
    update_id INTEGER NOT NULL,
    payload   TEXT NOT NULL,    -- the update as Telegram sent it
    at        INTEGER NOT NULL  -- unix time it was offered
);
CREATE UNIQUE INDEX offered_updates_by_bot ON offered_updates (bot, update_id);
CREATE INDEX offered_updates_by_age ON offered_updates (at);

-- What an existing bot asked switchboard's Bot API for: the update types it
-- wants, its webhook (setWebhook), and how delivering to that went.
CREATE TABLE existing_bots (
    bot                TEXT PRIMARY KEY,
    allowed_updates    TEXT,    -- JSON array as last asked for; NULL: Telegram's default
    webhook_url        TEXT,    -- NULL: the bot calls getUpdates
    webhook_secret     TEXT,    -- the bot's X-Telegram-Bot-Api-Secret-Token, if any
    max_connections    INTEGER,
    last_error_date    INTEGER, -- the last failed webhook delivery
    last_error_message TEXT
) WITHOUT ROWID;

-- The existing bot's latest messages to users without an open dialog (ids
-- and the mirror's keyboard only): mirrored into the topic when a dialog
-- opens, the last `intercept_history` of them.
CREATE TABLE intercepted_history (
    bot        TEXT NOT NULL,
    user_id    INTEGER NOT NULL,
    message_id INTEGER NOT NULL,
    album      TEXT,              -- media_group_id: an album is mirrored as one
    keyboard   TEXT,              -- JSON of outbox::Keyboard
    at         INTEGER NOT NULL,
    PRIMARY KEY (bot, user_id, message_id)
) WITHOUT ROWID;
