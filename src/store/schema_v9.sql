-- Message links are kept for 90 days (store::links::KEEP_SECS), then pruned
-- a batch of dialogs at a time (through message_links_by_dialog). A
-- dialog's figures (/info) count the pruned links here, so they stay whole.
ALTER TABLE dialogs ADD COLUMN pruned_in INTEGER NOT NULL DEFAULT 0;
ALTER TABLE dialogs ADD COLUMN pruned_out INTEGER NOT NULL DEFAULT 0;
