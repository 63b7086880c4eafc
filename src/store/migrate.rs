//! Schema migrations: step `i` moves the database from `user_version` i to
//! i+1, each in its own transaction. The version is read inside the write
//! transaction, so two processes (or a process and a tool) opening the same
//! new database at once do not both run a step.
//!
//! Most steps are SQL. Step 3 also rewrites stored JSON: jobs became a
//! purpose and an action, and lanes carry their priority; the shapes that
//! version 2 wrote are kept in [`legacy`], read there and nowhere else.

use anyhow::Context;
use rusqlite::{Connection, Transaction, TransactionBehavior, params};

/// One migration step.
enum Step {
    Sql(&'static str),
    /// SQL, then code over the rows.
    SqlThen(&'static str, fn(&Transaction<'_>) -> anyhow::Result<()>),
}

const STEPS: &[Step] = &[
    Step::Sql(include_str!("schema_v1.sql")),
    Step::Sql(include_str!("schema_v2.sql")),
    Step::SqlThen(include_str!("schema_v3.sql"), legacy::rewrite_jobs),
    Step::Sql(include_str!("schema_v4.sql")),
    Step::Sql(include_str!("schema_v5.sql")),
    Step::Sql(include_str!("schema_v6.sql")),
    Step::Sql(include_str!("schema_v7.sql")),
    Step::Sql(include_str!("schema_v8.sql")),
    Step::Sql(include_str!("schema_v9.sql")),
];

/// The schema version this switchboard writes.
pub const VERSION: usize = STEPS.len();

/// Brings the schema up to date.
pub fn migrate(conn: &mut Connection) -> anyhow::Result<()> {
    loop {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let version: i64 = tx.query_row("PRAGMA user_version", [], |row| row.get(0))?;
        let version = usize::try_from(version).unwrap_or(usize::MAX);
        let Some(step) = STEPS.get(version) else {
            if version > VERSION {
                anyhow::bail!(
                    "the database has schema version {version}, newer than this switchboard knows ({VERSION}); \
                     upgrade switchboard or restore a backup"
                );
            }
            return Ok(());
        };
        let context = || format!("migration to schema version {}", version + 1);
        match step {
            Step::Sql(sql) => tx.execute_batch(sql).with_context(context)?,
            Step::SqlThen(sql, code) => {
                tx.execute_batch(sql).with_context(context)?;
                code(&tx).with_context(context)?;
            }
        }
        tx.pragma_update(None, "user_version", i64::try_from(version + 1)?)?;
        tx.commit()?;
    }
}

/// The job and report shapes of schema version 2, and their rewrite.
mod legacy {
    use serde::Deserialize;

    use super::{Transaction, params};
    use crate::outbox::{Action, FailureKind, Job, Lane, Purpose, SenderReport, Target};

    #[derive(Deserialize)]
    #[serde(rename_all = "snake_case")]
    enum OldTarget {
        User(i64),
        Topic(i64),
        General(i64),
    }

    impl From<OldTarget> for Target {
        fn from(old: OldTarget) -> Target {
            match old {
                OldTarget::User(user) => Target::User(user),
                OldTarget::Topic(dialog) => Target::TopicOf(dialog),
                OldTarget::General(group) => Target::General(group),
            }
        }
    }

    #[derive(Deserialize)]
    #[serde(tag = "kind", rename_all = "snake_case")]
    enum OldJob {
        CreateTopic {
            dialog_id: i64,
            name: String,
            #[serde(default)]
            replaces: Option<i64>,
        },
        Copy {
            to: OldTarget,
            from_chat: i64,
            message_id: i32,
            #[serde(default)]
            what: Option<String>,
        },
        Text {
            to: OldTarget,
            text: String,
        },
        CloseTopic {
            dialog_id: i64,
        },
        ReopenTopic {
            dialog_id: i64,
        },
    }

    #[derive(Deserialize)]
    #[serde(tag = "report", rename_all = "snake_case")]
    enum OldReport {
        Failed {
            job: OldJob,
            error: String,
            kind: FailureKind,
        },
        TopicReplaced {
            dialog_id: i64,
        },
    }

    /// Rewrites every stored job (and every job inside a pending report) to
    /// the current shape, and sets each row's priority from its lane.
    pub(super) fn rewrite_jobs(tx: &Transaction<'_>) -> anyhow::Result<()> {
        let rows: Vec<(i64, String, String, String)> = {
            let mut stmt = tx.prepare("SELECT id, bot, lane, job FROM outbox")?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
            rows.collect::<Result<_, _>>()?
        };
        for (id, bot, lane, json) in rows {
            let lane = Lane::parse(&lane)?;
            let old: OldJob = serde_json::from_str(&json)?;
            let job = convert(tx, &bot, &lane, old)?;
            tx.execute(
                "UPDATE outbox SET job = ?2, priority = ?3 WHERE id = ?1",
                params![id, serde_json::to_string(&job)?, lane.priority() as i64],
            )?;
        }
        let reports: Vec<(i64, String, String)> = {
            let mut stmt =
                tx.prepare("SELECT id, bot, payload FROM inbox WHERE kind = 'report'")?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
            rows.collect::<Result<_, _>>()?
        };
        for (id, bot, json) in reports {
            let report = match serde_json::from_str::<OldReport>(&json)? {
                OldReport::TopicReplaced { dialog_id } => SenderReport::TopicReplaced { dialog_id },
                OldReport::Failed { job, error, kind } => {
                    let lane = match &job {
                        OldJob::Copy {
                            to: OldTarget::User(user),
                            ..
                        }
                        | OldJob::Text {
                            to: OldTarget::User(user),
                            ..
                        } => Lane::User(*user),
                        OldJob::Copy {
                            to: OldTarget::General(_),
                            ..
                        }
                        | OldJob::Text {
                            to: OldTarget::General(_),
                            ..
                        } => Lane::General,
                        _ => Lane::Topic(0),
                    };
                    SenderReport::Failed {
                        job: convert(tx, &bot, &lane, job)?,
                        error,
                        kind,
                    }
                }
            };
            tx.execute(
                "UPDATE inbox SET payload = ?2 WHERE id = ?1",
                params![id, serde_json::to_string(&report)?],
            )?;
        }
        Ok(())
    }

    /// An old job as a purpose and an action. The purpose is what the old
    /// shape meant: a copy to a user was a reply, into a topic a user's
    /// message; a text to a user a notice (a welcome's failure was handled
    /// the same), or a broadcast in a broadcast lane.
    fn convert(tx: &Transaction<'_>, bot: &str, lane: &Lane, old: OldJob) -> anyhow::Result<Job> {
        let dialog_of = |user: i64| -> anyhow::Result<i64> {
            let dialog: Option<i64> = tx
                .query_row(
                    "SELECT id FROM dialogs WHERE bot = ?1 AND user_id = ?2",
                    params![bot, user],
                    |r| r.get(0),
                )
                .map(Some)
                .or_else(|err| match err {
                    rusqlite::Error::QueryReturnedNoRows => Ok(None),
                    other => Err(other),
                })?;
            Ok(dialog.unwrap_or(0))
        };
        let broadcast = matches!(lane, Lane::Broadcast(_));
        Ok(match old {
            OldJob::CreateTopic {
                dialog_id,
                name,
                replaces,
            } => Job {
                purpose: Purpose::TopicChange { dialog: dialog_id },
                action: Action::CreateTopic {
                    dialog: dialog_id,
                    name,
                    replaces,
                },
            },
            OldJob::CloseTopic { dialog_id } => Job {
                purpose: Purpose::TopicChange { dialog: dialog_id },
                action: Action::CloseTopic { dialog: dialog_id },
            },
            OldJob::ReopenTopic { dialog_id } => Job {
                purpose: Purpose::TopicChange { dialog: dialog_id },
                action: Action::ReopenTopic { dialog: dialog_id },
            },
            OldJob::Copy {
                to,
                from_chat,
                message_id,
                what,
            } => {
                let purpose = match &to {
                    OldTarget::User(_) if broadcast => Purpose::Broadcast,
                    OldTarget::User(user) => Purpose::Reply {
                        dialog: dialog_of(*user)?,
                        what,
                    },
                    OldTarget::Topic(dialog) => Purpose::Inbound {
                        dialog: *dialog,
                        what,
                    },
                    OldTarget::General(_) => Purpose::GeneralNotice,
                };
                Job {
                    purpose,
                    action: Action::Copy {
                        to: to.into(),
                        from_chat,
                        message_ids: vec![message_id],
                        keyboard: None,
                        reply_to: None,
                        forward: false,
                    },
                }
            }
            OldJob::Text { to, text } => {
                let purpose = match &to {
                    OldTarget::User(_) if broadcast => Purpose::Broadcast,
                    OldTarget::User(user) => Purpose::UserNotice {
                        dialog: dialog_of(*user)?,
                    },
                    OldTarget::Topic(dialog) => Purpose::TopicNotice { dialog: *dialog },
                    OldTarget::General(_) => Purpose::GeneralNotice,
                };
                Job {
                    purpose,
                    action: Action::SendText {
                        to: to.into(),
                        text,
                        html: false,
                        reply_to: None,
                    },
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outbox::{Action, Job, Purpose, SenderReport, Target};

    /// A database at version 3 with remembered update ids: each bot's become
    /// one run, and a repeat of any of them is still recognised.
    #[test]
    fn version_3_update_ids_become_runs() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = Connection::open(dir.path().join("db")).unwrap();
        for step in &STEPS[..3] {
            match step {
                Step::Sql(sql) | Step::SqlThen(sql, _) => conn.execute_batch(sql).unwrap(),
            }
        }
        conn.pragma_update(None, "user_version", 3).unwrap();
        conn.execute_batch(
            "INSERT INTO bots (name, update_offset) VALUES ('a', 13), ('quiet', 5);
             INSERT INTO seen_updates (bot, update_id, at) VALUES ('a', 10, 100), ('a', 12, 200), ('a', 11, 150);",
        )
        .unwrap();
        migrate(&mut conn).unwrap();

        let mut a = crate::store::updates::Stored::load(&conn, "a").unwrap();
        assert!(!a.first_sight(11, 300));
        assert!(a.first_sight(13, 300));
        let mut quiet = crate::store::updates::Stored::load(&conn, "quiet").unwrap();
        assert!(quiet.first_sight(4, 300), "no ids were remembered");
        assert_eq!(crate::store::bots::offset(&conn, "a").unwrap(), 13);
    }

    /// A database at version 2 with a job of every old shape, upgraded.
    #[test]
    fn version_2_jobs_and_reports_are_rewritten() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = Connection::open(dir.path().join("db")).unwrap();
        for step in &STEPS[..2] {
            let Step::Sql(sql) = step else { unreachable!() };
            conn.execute_batch(sql).unwrap();
        }
        conn.pragma_update(None, "user_version", 2).unwrap();
        conn.execute(
            "INSERT INTO dialogs (id, bot, user_id, backend_group, status, opened_at) VALUES (5, 'a', 42, -100, 'user_answered', 0)",
            [],
        )
        .unwrap();
        let old = [
            (
                "u42",
                r#"{"kind":"copy","to":{"user":42},"from_chat":-100,"message_id":9}"#,
            ),
            (
                "t42",
                r#"{"kind":"copy","to":{"topic":5},"from_chat":42,"message_id":3,"what":"a hologram"}"#,
            ),
            ("u42", r#"{"kind":"text","to":{"user":42},"text":"hi"}"#),
            (
                "t42",
                r#"{"kind":"create_topic","dialog_id":5,"name":"Alice 42"}"#,
            ),
            (
                "general",
                r#"{"kind":"text","to":{"general":-100},"text":"ok"}"#,
            ),
            ("b7", r#"{"kind":"text","to":{"user":7},"text":"news"}"#),
        ];
        for (lane, job) in old {
            conn.execute(
                "INSERT INTO outbox (bot, lane, priority, chat, job, created_at) VALUES ('a', ?1, 4, 0, ?2, 0)",
                params![lane, job],
            )
            .unwrap();
        }
        conn.execute(
            "INSERT INTO inbox (bot, kind, payload) VALUES ('a', 'report', ?1)",
            [r#"{"report":"failed","job":{"kind":"copy","to":{"topic":5},"from_chat":42,"message_id":3},"error":"x","kind":"other"}"#],
        )
        .unwrap();
        migrate(&mut conn).unwrap();

        let mut stmt = conn
            .prepare("SELECT priority, job FROM outbox ORDER BY id")
            .unwrap();
        let jobs: Vec<(i64, Job)> = stmt
            .query_map([], |r| {
                let json: String = r.get(1)?;
                Ok((r.get(0)?, serde_json::from_str(&json).unwrap()))
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let purposes: Vec<(i64, &Purpose)> = jobs.iter().map(|(p, j)| (*p, &j.purpose)).collect();
        assert_eq!(
            purposes,
            [
                (
                    0,
                    &Purpose::Reply {
                        dialog: 5,
                        what: None
                    }
                ),
                (
                    1,
                    &Purpose::Inbound {
                        dialog: 5,
                        what: Some("a hologram".into())
                    }
                ),
                (0, &Purpose::UserNotice { dialog: 5 }),
                (1, &Purpose::TopicChange { dialog: 5 }),
                (2, &Purpose::GeneralNotice),
                (3, &Purpose::Broadcast),
            ]
        );
        assert_eq!(
            jobs[1].1.action,
            Action::Copy {
                to: Target::TopicOf(5),
                from_chat: 42,
                message_ids: vec![3],
                keyboard: None,
                reply_to: None,
                forward: false,
            }
        );
        let payload: String = conn
            .query_row("SELECT payload FROM inbox", [], |r| r.get(0))
            .unwrap();
        let report: SenderReport = serde_json::from_str(&payload).unwrap();
        assert!(matches!(
            report,
            SenderReport::Failed {
                job: Job {
                    purpose: Purpose::Inbound { dialog: 5, .. },
                    ..
                },
                ..
            }
        ));
    }
}
