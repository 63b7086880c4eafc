-- The status a topic's name shows (status_icons): the icon the dialog should
-- show, the icon its name shows (or is being renamed to), and when the last
-- rename was queued, so that renames come at most one a minute per dialog.
ALTER TABLE dialogs ADD COLUMN icon_wanted TEXT NOT NULL DEFAULT '';
ALTER TABLE dialogs ADD COLUMN icon_shown TEXT NOT NULL DEFAULT '';
ALTER TABLE dialogs ADD COLUMN renamed_at INTEGER;
CREATE INDEX dialogs_to_rename ON dialogs (renamed_at) WHERE icon_wanted != icon_shown;
