-- The update ids each bot stored lately move into its row, as runs of ids
-- (see store/updates.rs): one row written per batch instead of one per
-- update. A bot's remembered ids become one run, from its lowest to its
-- highest, last extended when the newest was stored.
ALTER TABLE bots ADD COLUMN stored_updates TEXT NOT NULL DEFAULT '[]';
UPDATE bots SET stored_updates = (
    SELECT json_array(json_array(min(update_id), max(update_id), max(at)))
    FROM seen_updates WHERE seen_updates.bot = bots.name
)
WHERE EXISTS (SELECT 1 FROM seen_updates WHERE seen_updates.bot = bots.name);
DROP TABLE seen_updates;

-- A new dialog goes to the group with the fewest open ones: counted in an
-- index of the open dialogs alone, not among every dialog a bot ever had.
CREATE INDEX dialogs_open_by_group ON dialogs (bot, backend_group, status) WHERE status != 'closed';

-- The dispatcher reads the inbox from a cursor over its ids: the index by
-- bot is no longer read, and each insert and delete wrote a page of it.
DROP INDEX inbox_by_bot;
