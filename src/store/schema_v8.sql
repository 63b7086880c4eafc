-- Albums being gathered (issue 9): the messages of one media group, a
-- user's in their chat or an operator's in a topic, wait here until the
-- album is complete, and then go as one copyMessages job. `thread` is the
-- topic (0 in a private chat); `toward` is where the album goes, as in
-- message_links: 'to_topic' or 'to_user'.
CREATE TABLE album_parts (
    bot TEXT NOT NULL,
    chat INTEGER NOT NULL,
    thread INTEGER NOT NULL,
    album TEXT NOT NULL,
    message_id INTEGER NOT NULL,
    dialog INTEGER NOT NULL,
    toward TEXT NOT NULL,
    reply_to INTEGER,
    forwarded INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (bot, chat, message_id)
);
CREATE INDEX album_parts_by_place ON album_parts (bot, chat, thread);

-- Updates of a backend group held back until a topic's creation is
-- recorded: an operator may write in a new topic before switchboard has
-- stored its id. They go back into the inbox when a creation is recorded
-- (or fails) in that group.
CREATE TABLE held_updates (
    id INTEGER PRIMARY KEY,
    bot TEXT NOT NULL,
    chat INTEGER NOT NULL,
    payload TEXT NOT NULL,
    held_at INTEGER NOT NULL
);
CREATE INDEX held_updates_by_chat ON held_updates (bot, chat);
