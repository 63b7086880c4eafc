-- For every relayed message, which message is a copy of which (ids only).
CREATE TABLE message_links (
    bot           TEXT NOT NULL,
    original_chat INTEGER NOT NULL,
    original_id   INTEGER NOT NULL,
    dialog        INTEGER NOT NULL,
    direction     TEXT NOT NULL,    -- to_topic (a user's message) | to_user (an operator's)
    copy_chat     INTEGER NOT NULL,
    copy_id       INTEGER NOT NULL,
    at            INTEGER NOT NULL, -- unix time the copy was recorded
    PRIMARY KEY (bot, original_chat, original_id)
) WITHOUT ROWID;
CREATE INDEX message_links_by_copy ON message_links (bot, copy_chat, copy_id);
CREATE INDEX message_links_by_dialog ON message_links (bot, dialog, at);

-- The sender loads pending jobs a window per priority.
DROP INDEX outbox_pending;
CREATE INDEX outbox_pending ON outbox (bot, priority, id) WHERE state = 'pending';

-- The recorded calls are pruned by age, for all bots at once.
DROP INDEX sends_by_bot;
CREATE INDEX sends_by_time ON sends (at_ms);
