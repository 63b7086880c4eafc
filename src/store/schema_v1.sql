-- One row per configured bot: where its getUpdates stream continues.
CREATE TABLE bots (
    name          TEXT PRIMARY KEY,
    update_offset INTEGER NOT NULL DEFAULT 0, -- next getUpdates offset: last stored update_id + 1
    username      TEXT                        -- from getMe; used to recognise /command@username
) WITHOUT ROWID;

-- Work for the dispatcher, in arrival order: raw Telegram updates, and the
-- sender's reports (jobs that failed for good, topics replaced), so that
-- product rules, not the sender, decide what people are told.
-- AUTOINCREMENT: ids only grow, even after the table was emptied, so they
-- give the arrival order.
CREATE TABLE inbox (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    bot     TEXT NOT NULL,
    kind    TEXT NOT NULL,   -- 'update' | 'report'
    payload TEXT NOT NULL    -- raw update JSON | outbox::Report JSON
);
CREATE INDEX inbox_by_bot ON inbox (bot, id);

-- People who wrote to a bot in a private chat.
CREATE TABLE users (
    bot        TEXT NOT NULL,
    user_id    INTEGER NOT NULL,
    first_name TEXT NOT NULL,
    last_name  TEXT,
    username   TEXT,
    blocked    INTEGER NOT NULL DEFAULT 0, -- the user blocked the bot
    first_seen INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL,
    PRIMARY KEY (bot, user_id)
) WITHOUT ROWID;

-- One dialog per (bot, user), shown as one topic in the backend group.
CREATE TABLE dialogs (
    id                     INTEGER PRIMARY KEY,
    bot                    TEXT NOT NULL,
    user_id                INTEGER NOT NULL,
    backend_group          INTEGER NOT NULL,
    topic_id               INTEGER,          -- NULL until createForumTopic succeeded
    topic_name             TEXT,             -- as created (a deleted topic is recreated with it)
    status                 TEXT NOT NULL,    -- user_answered | support_answered | closed
    opened_at              INTEGER NOT NULL,
    last_operator_reply_at INTEGER,
    UNIQUE (bot, user_id)
);
CREATE UNIQUE INDEX dialogs_by_topic ON dialogs (bot, backend_group, topic_id);
CREATE INDEX dialogs_for_autoclose ON dialogs (status, last_operator_reply_at);

-- Every outgoing Bot API call is a row here before it is sent. Rows leave when
-- done; failed ones stay with their error. AUTOINCREMENT: ids only grow, even
-- after the table was emptied, so the sender can load "everything after the
-- last id it saw".
CREATE TABLE outbox (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    bot        TEXT NOT NULL,
    lane       TEXT NOT NULL,    -- FIFO order is kept within a lane (one per dialog)
    priority   INTEGER NOT NULL, -- lower first, across lanes
    chat       INTEGER NOT NULL, -- the chat it sends into (for rate limits)
    job        TEXT NOT NULL,    -- JSON of outbox::Job
    state      TEXT NOT NULL DEFAULT 'pending', -- pending | failed
    attempts   INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    created_at INTEGER NOT NULL
);
CREATE INDEX outbox_pending ON outbox (bot, id) WHERE state = 'pending';

-- Backend groups that moved to a new chat id (Telegram's migrate_to_chat_id):
-- bots.toml may still name the old id; switchboard follows the move.
CREATE TABLE group_migrations (
    bot      TEXT NOT NULL,
    old_chat INTEGER NOT NULL,
    new_chat INTEGER NOT NULL,
    PRIMARY KEY (bot, old_chat)
) WITHOUT ROWID;
