-- Message links are kept for 90 days (store::links::KEEP_SECS), then pruned
-- a batch at a time, oldest first. A dialog's figures (/info) count the
-- pruned links here, so they stay whole.
ALTER TABLE dialogs ADD COLUMN pruned_in INTEGER NOT NULL DEFAULT 0;
ALTER TABLE dialogs ADD COLUMN pruned_out INTEGER NOT NULL DEFAULT 0;
CREATE INDEX message_links_by_age ON message_links (at);
