use std::process::Command;

use switchboard::config::BotSettings;
use switchboard::fake::{Fault, FaultRule};

use crate::util::{Desk, texts};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_update_in_the_middle_of_a_batch_does_not_block_the_others() {
    let mut desk = Desk::prepare(&[("shop", BotSettings::default())]).await;
    let alice = desk.fake.add_user("Alice", None);
    desk.fake.user_sends(desk.bot(), &alice, "before");
    desk.fake.push_raw_update(
        desk.bot(),
        serde_json::json!({"update_kind_from_the_future": {"id": 1, "payload": [1, 2, 3]}}),
    );
    desk.fake.push_raw_update(
        desk.bot(),
        serde_json::json!({"message": {"no": "fields it needs"}}),
    );
    desk.fake.user_sends(desk.bot(), &alice, "after");
    desk.launch();
    let topic = desk.only_topic().await;
    desk.wait_topic_texts(desk.group(), topic, &["before", "after"])
        .await;
    desk.settle().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bot_with_a_rejected_token_does_not_stop_the_other() {
    let mut desk = Desk::prepare(&[
        ("good", BotSettings::default()),
        ("revoked", BotSettings::default()),
    ])
    .await;
    // A token of the right shape that Telegram does not know: 401.
    desk.bots[1].config.token =
        switchboard::config::Token::new("123456789:AAHrevokedrevokedrevokedrevoked-xyz");
    desk.launch();
    let alice = desk.fake.add_user("Alice", None);
    desk.fake
        .user_sends(&desk.bots[0].bot, &alice, "still working?");
    let group = desk.bots[0].group;
    desk.wait("the good bot's topic", |f| {
        let topic = f.topics(group).first()?.thread_id;
        (texts(&f.topic_messages(group, topic)) == ["still working?"]).then_some(())
    })
    .await;
    // The rejected bot asked once and stopped: no retry loop against Telegram.
    let unknown_calls = || {
        desk.fake
            .requests()
            .iter()
            .filter(|r| r.bot_id.is_none())
            .count()
    };
    desk.wait("the revoked bot's getMe", |_| {
        (unknown_calls() >= 1).then_some(())
    })
    .await;
    desk.settle().await;
    assert_eq!(unknown_calls(), 1);

    // Monitoring sees it: 503, the revoked bot stopped with the reason, the good one polling.
    let response = reqwest::get(format!("http://{}/healthz", desk.http))
        .await
        .expect("healthz");
    assert_eq!(response.status(), 503);
    let health: serde_json::Value = response.json().await.expect("JSON");
    assert_eq!(health["status"], "degraded");
    assert_eq!(health["bots"]["good"]["state"], "polling");
    assert_eq!(health["bots"]["revoked"]["state"], "stopped");
    let reason = health["bots"]["revoked"]["reason"]
        .as_str()
        .unwrap_or_default();
    assert!(reason.contains("unauthorized"), "{health}");
    assert!(
        !health.to_string().contains("revokedrevoked"),
        "no token in /healthz"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transient_failures_are_retried_until_delivered() {
    let desk = Desk::one_bot().await;
    let alice = desk.fake.add_user("Alice", None);
    desk.fake.inject(FaultRule {
        method: Some("copyMessage".into()),
        bot_id: None,
        times: 2,
        fault: Fault::server_error(),
    });
    desk.fake.inject(FaultRule {
        method: Some("createForumTopic".into()),
        bot_id: None,
        times: 1,
        fault: Fault::retry_after(1),
    });
    desk.fake.user_sends(desk.bot(), &alice, "please arrive");
    let topic = desk.only_topic().await;
    desk.wait_topic_texts(desk.group(), topic, &["please arrive"])
        .await;
    desk.settle().await;
    assert!(desk.failed_jobs().is_empty());
}

#[test]
fn check_names_the_key_and_the_problem_of_a_broken_config() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("bots.toml");
    std::fs::write(
        &path,
        "poll_timeout = \"30s\"\n\n[[bots]]\nname = \"shop\"\ntoken = \"${NOT_SET_ANYWHERE_42}\"\nbackend_group = -1001234567890\nautoclose = \"4x\"\n",
    )
    .expect("write");
    let output = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["check", "--config"])
        .arg(&path)
        .env_remove("NOT_SET_ANYWHERE_42")
        .output()
        .expect("run check");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("bots[0].token") && stderr.contains("NOT_SET_ANYWHERE_42"),
        "{stderr}"
    );
    assert!(
        stderr.contains(":7: bots[0].autoclose") && stderr.contains("\"4x\""),
        "{stderr}"
    );
}

#[test]
fn check_prints_resolved_settings_with_the_token_masked() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("bots.toml");
    let secret = "AAHsecretsecretsecretsecretsecret12";
    std::fs::write(
        &path,
        "[[bots]]\nname = \"shop\"\ntoken = \"${SHOP_TOKEN}\"\nbackend_group = -1001234567890\nsilent_mode = true\n",
    )
    .expect("write");
    let output = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["check", "--config"])
        .arg(&path)
        .env("SHOP_TOKEN", format!("123456:{secret}"))
        .output()
        .expect("run check");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(stdout.contains("123456:***"), "{stdout}");
    assert!(!stdout.contains(secret) && !String::from_utf8_lossy(&output.stderr).contains(secret));
    assert!(
        stdout.contains("silent_mode") && stdout.contains("true"),
        "{stdout}"
    );
}

/// 409: a webhook is set for the token. The bot keeps retrying, and the
/// conflict is visible with its cause.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conflicting_webhook_is_reported_with_its_cause() {
    let mut desk = Desk::prepare(&[("shop", BotSettings::default())]).await;
    let url = format!("{}/bot{}/setWebhook", desk.fake.api_url(), desk.bot().token);
    let set = reqwest::Client::new()
        .post(url)
        .json(&serde_json::json!({"url": "https://example.invalid/hook"}))
        .send()
        .await
        .expect("setWebhook");
    assert!(set.status().is_success());
    desk.launch();
    let health_url = format!("http://{}/healthz", desk.http);
    let mut state = serde_json::Value::Null;
    for _ in 0..500 {
        if let Ok(response) = reqwest::get(&health_url).await {
            state = response.json().await.expect("JSON");
            if state["bots"]["shop"]["state"] == "retrying" {
                break;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(state["status"], "ok", "retrying is not stopped: {state}");
    let error = state["bots"]["shop"]["error"].as_str().unwrap_or_default();
    assert!(
        error.starts_with("conflict:") && error.contains("webhook"),
        "{state}"
    );
}

/// Tokens never reach the logs, even at trace level (ours and the HTTP
/// stack's) and through errors of
/// every kind (401 for a revoked token, 5xx, 403).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_never_appear_in_the_logs() {
    let fake = switchboard::fake::FakeTelegram::start()
        .await
        .expect("fake");
    let bot = fake.add_bot("shop_bot");
    let group = fake.add_forum_group("Support", &[&bot]);
    let alice = fake.add_user("Alice", None);
    let revoked = "987654321:AAFrevokedTokenSecretPart_0123456789";
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("bots.toml");
    let text = format!(
        "api_url = \"{}\"\npoll_timeout = \"5s\"\n[http]\nlisten = \"127.0.0.1:0\"\n\
         [[bots]]\nname = \"shop\"\ntoken = \"${{SHOP_TOKEN}}\"\nbackend_group = {group}\n\
         [[bots]]\nname = \"old\"\ntoken = \"${{OLD_TOKEN}}\"\nbackend_group = {group}\n",
        fake.api_url()
    );
    std::fs::write(&config, text).expect("write bots.toml");
    fake.inject(FaultRule {
        method: Some("copyMessage".into()),
        bot_id: None,
        times: 1,
        fault: Fault::server_error(),
    });
    fake.inject(FaultRule {
        method: Some("sendMessage".into()),
        bot_id: None,
        times: 1,
        fault: Fault::blocked_by_user(),
    });
    let mut child = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["run", "--config"])
        .arg(&config)
        .env("SHOP_TOKEN", &bot.token)
        .env("OLD_TOKEN", revoked)
        .env("RUST_LOG", "trace")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start switchboard");
    fake.user_sends(&bot, &alice, "hello");
    let relayed = fake
        .wait_until(crate::util::PATIENCE, |f| {
            let topic = f.topics(group).first()?.thread_id;
            (texts(&f.topic_messages(group, topic)) == ["hello"]).then_some(())
        })
        .await;
    child.kill().expect("kill");
    let output = child.wait_with_output().expect("output");
    assert!(relayed.is_some(), "the message was not relayed");
    let logs = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        logs.contains("401 Unauthorized"),
        "the revoked bot's error is logged: {logs}"
    );
    assert!(
        logs.contains("will retry") || logs.contains("502"),
        "the 502 is logged: {logs}"
    );
    let secret = |token: &str| {
        token
            .split_once(':')
            .map(|(_, s)| s.to_owned())
            .unwrap_or_default()
    };
    for token in [bot.token.as_str(), revoked] {
        assert!(
            !logs.contains(&secret(token)),
            "a token leaked into the logs:\n{logs}"
        );
    }
}

/// Updates served a second time, with their original ids (by a Bot API
/// server or a proxy that lost track): each is relayed once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_served_twice_is_relayed_once() {
    let desk = Desk::one_bot().await;
    let (alice, topic) = desk.open_dialog("Alice", "one").await;
    let group = desk.group();
    desk.fake.repeat_confirmed_updates(desk.bot(), 1);
    desk.fake.user_sends(desk.bot(), &alice, "two");
    desk.wait_topic_texts(group, topic, &["one", "two"]).await;
    desk.settle().await;
    desk.fake.repeat_confirmed_updates(desk.bot(), 2);
    desk.fake.user_sends(desk.bot(), &alice, "three");
    desk.wait_topic_texts(group, topic, &["one", "two", "three"])
        .await;
    desk.settle().await;
    assert_eq!(
        texts(&desk.fake.topic_messages(group, topic)),
        ["one", "two", "three"]
    );
}

/// An update the dispatcher cannot handle (a sender id beyond what Telegram
/// issues) is set aside as a dead letter with its error: the updates around
/// it and the other bot's go on, `/healthz` counts it, operators see a note
/// in General, and after a restart it is not tried again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_that_cannot_be_handled_is_set_aside_and_the_rest_go_on() {
    let mut desk = Desk::prepare(&[
        ("shop", BotSettings::default()),
        ("other", BotSettings::default()),
    ])
    .await;
    let (shop, other) = (desk.bots[0].bot.clone(), desk.bots[1].bot.clone());
    let alice = desk.fake.add_user("Alice", None);
    let bob = desk.fake.add_user("Bob", None);
    desk.fake.user_sends(&shop, &alice, "before");
    desk.fake.push_raw_update(
        &shop,
        serde_json::json!({"message": {
            "message_id": 99, "date": 0,
            "chat": {"id": 5, "type": "private", "first_name": "X"},
            "from": {"id": 18_446_744_073_709_551_615_u64, "is_bot": false, "first_name": "X"},
            "text": "an id that does not fit"
        }}),
    );
    desk.fake.user_sends(&shop, &alice, "after");
    desk.fake.user_sends(&other, &bob, "hello");
    desk.launch();
    let (shop_group, other_group) = (desk.bots[0].group, desk.bots[1].group);
    let topic = desk.topic_of(&alice).await;
    desk.wait_topic_texts(shop_group, topic, &["before", "after"])
        .await;
    desk.wait("the other bot's topic", |f| {
        let topic = f.topics(other_group).first()?.thread_id;
        (texts(&f.topic_messages(other_group, topic)) == ["hello"]).then_some(())
    })
    .await;
    desk.settle().await;
    let (status, health) = desk.health().await;
    assert_eq!(status, 200, "{health}");
    assert_eq!(health["dead_letters"], 1, "{health}");
    let general = texts(&desk.fake.general_messages(shop_group));
    assert!(
        general
            .iter()
            .any(|t| t.starts_with("⚠️ An update could not be handled")),
        "{general:?}"
    );

    desk.stop().await;
    desk.launch();
    desk.fake.user_sends(&shop, &alice, "after the restart");
    desk.wait_topic_texts(shop_group, topic, &["before", "after", "after the restart"])
        .await;
    desk.settle().await;
    let (_, health) = desk.health().await;
    assert_eq!(health["dead_letters"], 1, "{health}");
}

/// An absurd rate or duration is a configuration problem that `check`
/// reports, never a panic (here or later, in the sender's limiter).
#[test]
fn check_refuses_absurd_rates_and_durations() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("bots.toml");
    std::fs::write(
        &path,
        "[[bots]]\nname = \"shop\"\ntoken = \"${SHOP_TOKEN}\"\nbackend_group = -1001234567890\nbot_limit = \"1/10000000000000000000s\"\nautoclose = \"18446744073709551615s 1000ms\"\n",
    )
    .expect("write");
    let output = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["check", "--config"])
        .arg(&path)
        .env("SHOP_TOKEN", "123456:AAHabsurdabsurdabsurdabsurdabsurd1")
        .output()
        .expect("run check");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        stderr.contains(
            ":5: bots[0].bot_limit: invalid rate \"1/10000000000000000000s\": the duration \"10000000000000000000s\" is too long: expected 1ms to 24h"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains(":6: bots[0].autoclose: invalid duration")
            && stderr.contains("out of range"),
        "{stderr}"
    );
}

/// One bot's table is invalid (its `${VAR}` is unset): `check` fails on it,
/// but `run` starts the other bot and reports the invalid one in the log and
/// in `/healthz`. A problem outside the bot tables still stops everything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_invalid_bot_does_not_stop_the_others() {
    use crate::util::{
        Switchboard, free_port, switchboard_command, wait_for_health, write_bots_config,
    };
    let fake = switchboard::fake::FakeTelegram::start()
        .await
        .expect("fake");
    let bot = fake.add_bot("good_bot");
    let group = fake.add_forum_group("Support", &[&bot]);
    let dir = tempfile::tempdir().expect("temp dir");
    let http = free_port();
    let bots = [
        ("good", "GOOD_TOKEN", group),
        ("broken", "BROKEN_TOKEN_NOT_SET", group),
    ];
    let config = write_bots_config(dir.path(), &fake.api_url(), http, &bots);

    let check = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["check", "--config"])
        .arg(&config)
        .env("GOOD_TOKEN", &bot.token)
        .env_remove("BROKEN_TOKEN_NOT_SET")
        .output()
        .expect("run check");
    let stderr = String::from_utf8_lossy(&check.stderr);
    assert_eq!(check.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("bots[1].token") && stderr.contains("BROKEN_TOKEN_NOT_SET"));

    let mut command = switchboard_command(&config);
    command
        .env("GOOD_TOKEN", &bot.token)
        .env_remove("BROKEN_TOKEN_NOT_SET")
        .env("RUST_LOG", "info");
    let process = Switchboard::spawn(command, None);
    let alice = fake.add_user("Alice", None);
    fake.user_sends(&bot, &alice, "still served?");
    let relayed = fake
        .wait_until(crate::util::PATIENCE, |f| {
            let topic = f.topics(group).first()?.thread_id;
            (texts(&f.topic_messages(group, topic)) == ["still served?"]).then_some(())
        })
        .await;
    assert!(
        relayed.is_some(),
        "the valid bot relays:\n{}",
        process.logs()
    );
    let health = wait_for_health(http, |h| h["bots"]["good"]["state"] == "polling").await;
    assert_eq!(health["status"], "degraded", "{health}");
    assert_eq!(health["bots"]["broken"]["state"], "stopped", "{health}");
    let reason = health["bots"]["broken"]["reason"]
        .as_str()
        .unwrap_or_default();
    assert!(reason.contains("BROKEN_TOKEN_NOT_SET"), "{health}");
    let logs = process.stop();
    assert!(
        logs.contains("not started") && logs.contains("BROKEN_TOKEN_NOT_SET"),
        "{logs}"
    );

    // An invalid [http] listen is everyone's problem: nothing starts.
    let text = std::fs::read_to_string(&config).expect("read");
    std::fs::write(&config, text.replace(&http.to_string(), "not an address")).expect("write");
    let run = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["run", "--config"])
        .arg(&config)
        .env("GOOD_TOKEN", &bot.token)
        .output()
        .expect("run");
    assert_eq!(run.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&run.stderr).contains("http.listen"));
}
