//! Processes of their own, and what `/proc` says about them: the real
//! switchboard (`switchboard run` on a generated `bots.toml`) and the fake
//! Bot API (`switchboard fake`), both the release build of this package
//! (`env!("CARGO_BIN_EXE_switchboard")`). Only in a process of its own are
//! CPU and memory figures switchboard's alone.
//!
//! CPU is utime + stime from `/proc/<pid>/stat` (fields 14 and 15), in clock
//! ticks (`getconf CLK_TCK`, usually 100 a second); per thread from
//! `/proc/<pid>/task/<tid>/stat`, to see where the time went. Memory is
//! `VmRSS` (now) and `VmHWM` (the peak) from `/proc/<pid>/status`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use switchboard::fake::FakeBot;
use switchboard::testkit::FakeControl;

/// How long a stopping switchboard may take (it gives its own tasks 5 s)
/// before it is killed and the benchmark fails.
const STOP_LIMIT: Duration = Duration::from_secs(15);

/// `[defaults]` of the scenarios that measure switchboard's own cost: no
/// rate limits (the fake has none either), no greeting (one call per
/// message, the copy).
pub const UNLIMITED: &str =
    "welcome = \"off\"\nbot_limit = \"off\"\nchat_limit = \"off\"\ngroup_limit = \"off\"\n";

/// A child process, killed (SIGKILL) when dropped, so that an error or a
/// panic in the benchmark leaves no process behind.
pub struct ChildProcess {
    child: Child,
    /// What it is, for messages.
    name: &'static str,
    /// Where its stderr goes.
    log: PathBuf,
}

impl ChildProcess {
    fn spawn(name: &'static str, command: &mut Command, log: &Path) -> anyhow::Result<Self> {
        let file = File::create(log).context("creating the log file")?;
        let child = command
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stderr(file)
            .spawn()
            .with_context(|| format!("starting {name}"))?;
        Ok(ChildProcess {
            child,
            name,
            log: log.to_owned(),
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// An error, with the last lines of its log, if the process has exited.
    pub fn ensure_running(&mut self) -> anyhow::Result<()> {
        if let Some(status) = self.child.try_wait()? {
            let text = std::fs::read_to_string(&self.log).unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(10).collect();
            bail!(
                "{} exited early ({status}); last log lines:\n{}",
                self.name,
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            );
        }
        Ok(())
    }

    /// Stops the process as an operator would (SIGTERM) and waits for it.
    ///
    /// # Errors
    /// If it does not stop within [`STOP_LIMIT`] (it is then killed), or
    /// stops with a failure.
    pub async fn stop(&mut self) -> anyhow::Result<()> {
        if self.child.try_wait()?.is_none() {
            let sent = Command::new("kill")
                .args(["-TERM", &self.pid().to_string()])
                .status()
                .context("running kill -TERM")?;
            if !sent.success() {
                bail!("kill -TERM {} failed", self.pid());
            }
        }
        let asked = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait()? {
                if !status.success() {
                    bail!("{} stopped with {status}", self.name);
                }
                return Ok(());
            }
            if asked.elapsed() > STOP_LIMIT {
                self.kill();
                bail!("{} did not stop within {STOP_LIMIT:?}", self.name);
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Kills the process (SIGKILL) and reaps it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Prints the warnings and errors it logged, the first three of them.
    pub fn print_log(&self, scenario: &str) {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines = text.lines().count();
        if lines > 0 {
            println!(
                "{scenario}: {} logged {lines} warning/error lines; the first:",
                self.name
            );
            for line in text.lines().take(3) {
                println!("{scenario}:   {}", strip_ansi(line));
            }
        }
    }
}

impl Drop for ChildProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Starts `switchboard run --config <config>`, its log (level warn) to `log`.
pub fn spawn_switchboard(config: &Path, log: &Path) -> anyhow::Result<ChildProcess> {
    let mut command = Command::new(env!("CARGO_BIN_EXE_switchboard"));
    command
        .args(["run", "--config"])
        .arg(config)
        .stdout(Stdio::null());
    ChildProcess::spawn("switchboard", &mut command, log)
}

/// `switchboard fake` running in a process of its own.
pub struct FakeProcess {
    pub process: ChildProcess,
    /// Its base URL (the Bot API's and the control API's).
    pub api_url: String,
    /// A client of its control API.
    pub control: FakeControl,
    /// The bots it created at start, each with its backend group.
    pub bots: Vec<(FakeBot, i64)>,
}

/// Starts `switchboard fake --listen 127.0.0.1:0 --bots <bots>` and reads
/// what it printed: the URL, then one line per bot.
pub async fn spawn_fake(bots: usize, log: &Path) -> anyhow::Result<FakeProcess> {
    let mut command = Command::new(env!("CARGO_BIN_EXE_switchboard"));
    command
        .args(["fake", "--listen", "127.0.0.1:0", "--bots"])
        .arg(bots.to_string())
        .stdout(Stdio::piped());
    let mut process = ChildProcess::spawn("switchboard fake", &mut command, log)?;
    let stdout = process.child.stdout.take().context("the fake's stdout")?;
    let printed = tokio::task::spawn_blocking(move || read_fake_setup(stdout, bots)).await?;
    let (api_url, bots) = match printed {
        Ok(printed) => printed,
        Err(err) => {
            process.ensure_running()?;
            return Err(err);
        }
    };
    Ok(FakeProcess {
        process,
        control: FakeControl::new(&api_url),
        api_url,
        bots,
    })
}

/// The URL (first line: `fake Bot API listening on http://...`) and the
/// `bots` bot lines (`bot   @name  id ID  token TOKEN  backend group GROUP`).
fn read_fake_setup(
    stdout: ChildStdout,
    bots: usize,
) -> anyhow::Result<(String, Vec<(FakeBot, i64)>)> {
    let mut lines = BufReader::new(stdout).lines();
    let first = lines.next().context("the fake printed nothing")??;
    let url = first
        .split_whitespace()
        .find(|word| word.starts_with("http://"))
        .with_context(|| format!("no URL in the fake's first line: {first}"))?
        .to_owned();
    let mut found = Vec::with_capacity(bots);
    while found.len() < bots {
        let line = lines
            .next()
            .context("the fake printed fewer bots than asked")??;
        let Some(rest) = line.strip_prefix("bot   @") else {
            continue;
        };
        let words: Vec<&str> = rest.split_whitespace().collect();
        let [
            username,
            "id",
            id,
            "token",
            token,
            "backend",
            "group",
            group,
        ] = words[..]
        else {
            bail!("unexpected bot line from the fake: {line}");
        };
        let bot = FakeBot {
            id: id.parse()?,
            token: token.to_owned(),
            username: username.to_owned(),
        };
        found.push((bot, group.parse()?));
    }
    Ok((url, found))
}

/// Writes `bots.toml` in `dir` (database `switchboard.db` beside it, HTTP
/// on any free port) with `defaults` as its `[defaults]` and one table per
/// (name, token, backend group); returns its path. Literal tokens of fake
/// bots: a temporary file is fine for a benchmark.
pub fn write_config(
    dir: &Path,
    api_url: &str,
    poll_timeout: &str,
    defaults: &str,
    bots: impl IntoIterator<Item = (String, String, i64)>,
) -> anyhow::Result<PathBuf> {
    let mut toml = format!(
        "database = \"switchboard.db\"\napi_url = \"{api_url}\"\npoll_timeout = \"{poll_timeout}\"\n\n\
         [http]\nlisten = \"127.0.0.1:0\"\n\n[defaults]\n{defaults}"
    );
    for (name, token, group) in bots {
        write!(
            toml,
            "\n[[bots]]\nname = \"{name}\"\ntoken = \"{token}\"\nbackend_group = {group}\n"
        )?;
    }
    let config = dir.join("bots.toml");
    std::fs::write(&config, toml).context("writing bots.toml")?;
    Ok(config)
}

/// The line without terminal colour codes (`ESC [ ... m`).
fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// A `Key:   value kB` field of `/proc/<pid>/status`, as a number (kB for sizes).
pub fn proc_status_kb(pid: u32, key: &str) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("reading /proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|value| value.split_whitespace().next()?.parse().ok())
        .with_context(|| format!("no {key} in /proc/{pid}/status"))
}

/// utime + stime of the process, in clock ticks (`/proc/<pid>/stat` fields 14, 15).
pub fn cpu_ticks(pid: u32) -> anyhow::Result<u64> {
    let ticks = stat_ticks(&format!("/proc/{pid}/stat"))?;
    Ok(ticks.user + ticks.system)
}

/// utime + stime of this process (the benchmark, and the fake if it runs
/// in here), in clock ticks.
pub fn own_cpu_ticks() -> anyhow::Result<u64> {
    cpu_ticks(std::process::id())
}

/// CPU time of every process of the machine added up, in clock ticks:
/// utime + stime + cutime + cstime (`/proc/<pid>/stat` fields 14 to 17) of
/// each, so that a process that ended in between still counts, in its
/// parent's cutime + cstime once reaped. With a process's own ticks, what
/// everything else used. (The first line of `/proc/stat` would be simpler,
/// but on this virtual machine it counts far less than the processes do.)
pub fn all_processes_ticks() -> anyhow::Result<u64> {
    let mut total = 0;
    for entry in std::fs::read_dir("/proc").context("reading /proc")? {
        let entry = entry?;
        if !entry
            .file_name()
            .to_string_lossy()
            .bytes()
            .all(|b| b.is_ascii_digit())
        {
            continue;
        }
        // A process may end between the listing and the read.
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        let Some((_, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        // rest[0] is field 3 (state).
        total += rest
            .split_whitespace()
            .skip(11)
            .take(4)
            .filter_map(|field| field.parse::<u64>().ok())
            .sum::<u64>();
    }
    Ok(total)
}

/// CPU time of a process or thread, or of threads of one name.
#[derive(Clone, Debug, Default)]
pub struct Ticks {
    /// The command name (a thread's name, cut to 15 bytes by the kernel).
    pub name: String,
    /// How many threads were added up.
    pub threads: usize,
    /// utime: in user mode.
    pub user: u64,
    /// stime: in the kernel on its behalf (system calls: sockets, files).
    pub system: u64,
}

/// The command name and utime, stime of a `stat` file of `/proc`.
fn stat_ticks(path: &str) -> anyhow::Result<Ticks> {
    let stat = std::fs::read_to_string(path).with_context(|| format!("reading {path}"))?;
    // The command name (field 2) may hold spaces: it is between the first
    // '(' and the last ')'.
    let (name, rest) = stat
        .split_once('(')
        .and_then(|(_, rest)| rest.rsplit_once(')'))
        .with_context(|| format!("unexpected {path}"))?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |n: usize| -> anyhow::Result<u64> {
        // fields[0] is field 3 (state).
        Ok(fields
            .get(n - 3)
            .with_context(|| format!("short {path}"))?
            .parse()?)
    };
    Ok(Ticks {
        name: name.to_owned(),
        threads: 1,
        user: field(14)?,
        system: field(15)?,
    })
}

/// CPU ticks per thread name (threads of one name added up), most first:
/// where a process spent its time.
pub fn thread_ticks(pid: u32) -> anyhow::Result<Vec<Ticks>> {
    let mut by_name: BTreeMap<String, Ticks> = BTreeMap::new();
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task"))
        .with_context(|| format!("reading /proc/{pid}/task"))?;
    for task in tasks {
        let path = task?.path().join("stat");
        // A thread may end between the listing and the read.
        let Ok(ticks) = stat_ticks(&path.to_string_lossy()) else {
            continue;
        };
        let entry = by_name.entry(ticks.name.clone()).or_insert(Ticks {
            name: ticks.name,
            ..Ticks::default()
        });
        entry.threads += 1;
        entry.user += ticks.user;
        entry.system += ticks.system;
    }
    let mut threads: Vec<Ticks> = by_name.into_values().collect();
    threads.sort_by(|a, b| {
        (b.user + b.system)
            .cmp(&(a.user + a.system))
            .then_with(|| a.name.cmp(&b.name))
    });
    Ok(threads)
}

/// What each thread name used between two readings of `thread_ticks`
/// (a thread that ended in between is left out), most first.
pub fn ticks_between(before: &[Ticks], after: &[Ticks]) -> Vec<Ticks> {
    let mut used: Vec<Ticks> = after
        .iter()
        .map(|t| {
            let earlier = before.iter().find(|b| b.name == t.name);
            Ticks {
                name: t.name.clone(),
                threads: t.threads,
                user: t.user.saturating_sub(earlier.map_or(0, |b| b.user)),
                system: t.system.saturating_sub(earlier.map_or(0, |b| b.system)),
            }
        })
        .collect();
    used.sort_by(|a, b| {
        (b.user + b.system)
            .cmp(&(a.user + a.system))
            .then_with(|| a.name.cmp(&b.name))
    });
    used
}

/// `thread_ticks` as one line, `name xTHREADS user+system ticks, ..`, for
/// those that used any.
pub fn describe_threads(threads: &[Ticks]) -> String {
    let shown: Vec<String> = threads
        .iter()
        .filter(|t| t.user + t.system > 0)
        .map(|t| {
            let count = if t.threads > 1 {
                format!(" x{}", t.threads)
            } else {
                String::new()
            };
            format!("{}{count} {}+{}", t.name, t.user, t.system)
        })
        .collect();
    if shown.is_empty() {
        "none".to_owned()
    } else {
        shown.join(", ")
    }
}

/// `getconf CLK_TCK`, or 100 (the usual value) if that fails.
pub fn clock_ticks_per_sec() -> u64 {
    static TICKS: OnceLock<u64> = OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|out| String::from_utf8(out.stdout).ok())
            .and_then(|text| text.trim().parse().ok())
            .filter(|&ticks| ticks > 0)
            .unwrap_or(100)
    })
}

/// Clock ticks in ms.
pub fn ticks_ms(ticks: u64) -> f64 {
    #[allow(clippy::cast_precision_loss)]
    let ms = ticks as f64 * 1000.0 / clock_ticks_per_sec() as f64;
    ms
}

/// Clock ticks over a wall time, as a percentage of one core.
pub fn core_percent(ticks: u64, wall: Duration) -> f64 {
    ticks_ms(ticks) / (wall.as_secs_f64() * 1000.0).max(1e-9) * 100.0
}

/// kB in MB.
pub fn mb(kb: u64) -> f64 {
    #[allow(clippy::cast_precision_loss)]
    let mb = kb as f64 / 1024.0;
    mb
}
