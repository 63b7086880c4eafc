-- Inbox rows the dispatcher could not handle (an update it cannot read, a
-- bug), set aside with their error so that the rows after them go on.
CREATE TABLE dead_letters (
    id      INTEGER PRIMARY KEY,
    bot     TEXT NOT NULL,
    kind    TEXT NOT NULL,    -- as in inbox
    payload TEXT NOT NULL,    -- as in inbox
    error   TEXT NOT NULL,
    at      INTEGER NOT NULL  -- unix time it was set aside
);

-- Update ids already stored, so that an update served twice is stored once.
-- Kept two days: Telegram keeps an update at most 24 hours.
CREATE TABLE seen_updates (
    bot       TEXT NOT NULL,
    update_id INTEGER NOT NULL,
    at        INTEGER NOT NULL, -- unix time it was stored
    PRIMARY KEY (bot, update_id)
) WITHOUT ROWID;
CREATE INDEX seen_updates_by_age ON seen_updates (at);

-- The calls each bot made lately, by chat: the rate limiter's windows are
-- restored from them after a restart. Pruned beyond the bot's longest window.
CREATE TABLE sends (
    bot   TEXT NOT NULL,
    chat  INTEGER NOT NULL,
    at_ms INTEGER NOT NULL -- unix time in ms the call was answered
);
CREATE INDEX sends_by_bot ON sends (bot, at_ms);

-- A CreateTopic job is queued for the dialog: one at a time per dialog.
ALTER TABLE dialogs ADD COLUMN topic_requested INTEGER NOT NULL DEFAULT 0;
UPDATE dialogs SET topic_requested = 1
WHERE topic_id IS NULL AND EXISTS (
    SELECT 1 FROM outbox
    WHERE state = 'pending' AND json_extract(job, '$.kind') = 'create_topic'
      AND json_extract(job, '$.dialog_id') = dialogs.id
);

-- One lane per dialog and direction: jobs toward the topic move from the
-- dialog's lane "u<user>" to "t<user>" (toward the user stays "u<user>").
UPDATE outbox SET lane = 't' || substr(lane, 2)
WHERE lane LIKE 'u%' AND (
    json_extract(job, '$.kind') IN ('create_topic', 'close_topic', 'reopen_topic')
    OR json_extract(job, '$.to.topic') IS NOT NULL
);
