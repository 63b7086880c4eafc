-- What the user card shows beside the names (auto_info): the user's
-- language and Premium, as Telegram last sent them, and the /start payload
-- of their first message (a deep link's campaign).
ALTER TABLE users ADD COLUMN language TEXT;
ALTER TABLE users ADD COLUMN premium INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN start_payload TEXT;
