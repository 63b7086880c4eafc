//! upload: switchboard's memory while an existing bot uploads a large file
//! through the Bot API proxy. The same setup as `proxy` ([`ProxyDesk`]: the
//! real binary, one bot in proxy mode, the fake in this process, a user
//! whose dialog is open).
//!
//! `--uploads` times, one after the other, two uploads: a `sendDocument` to
//! the user as `multipart/form-data` (a `chat_id` part and a `document` part
//! of `--upload-mb` MB), first with a `Content-Length` (as most Bot API
//! clients send it), then chunked (as reqwest sends a multipart form with a
//! streamed part; the proxy then counts the bytes as they pass), each
//! streamed from the client: the body is made as it is sent, 64 KiB at a
//! time, from one shared buffer, so this process never holds it either. The
//! fake reads it whole into memory (as it keeps every file), in this
//! process: not what is measured.
//!
//! Before each upload switchboard's peak resident memory (`VmHWM`) is reset
//! to its current `VmRSS` (`echo 5 > /proc/<pid>/clear_refs`, allowed to
//! the process's owner); after it (the answer read, the mirror into the
//! topic done) `VmHWM` is the peak during that upload. Printed for each: the
//! time and rate, `VmHWM` before (idle) and after, and the difference (the
//! target). The peak since switchboard's start, warm-up included, is
//! printed first.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bytes::Bytes;

use crate::common::{verdict, wait_settled};
use crate::process::{mb, proc_status_kb};
use crate::proxy::ProxyDesk;

/// The target from the issue ("within a few MB of idle": the proxy streams,
/// it never holds the body); printed next to the figure, never enforced.
const TARGET_ADDED_MB: f64 = 5.0;
/// Pieces of the file as they are sent.
const CHUNK: usize = 64 * 1024;
/// An upload that takes longer fails the run.
const UPLOAD_LIMIT: Duration = Duration::from_secs(120);
/// Between the parts of the multipart body.
const BOUNDARY: &str = "switchboard-bench-boundary-7Q2xK9";

pub async fn upload(size_mb: usize, uploads: usize) -> anyhow::Result<()> {
    println!(
        "\nupload: --upload-mb {size_mb} --uploads {uploads} (the real binary, one bot in proxy mode; \
         sendDocument as multipart/form-data streamed through the proxy; the fake in this process)"
    );
    let size = size_mb.checked_mul(1024 * 1024).context("--upload-mb")?;
    let mut desk = ProxyDesk::start("upload").await?;
    let pid = desk.pid();
    // Let the warm-up's work end.
    tokio::time::sleep(Duration::from_secs(1)).await;
    println!(
        "upload: switchboard idle after the warm-up: VmRSS {:.1} MB, peak VmHWM {:.1} MB since its start",
        mb(proc_status_kb(pid, "VmRSS")?),
        mb(proc_status_kb(pid, "VmHWM")?)
    );
    let client = reqwest::Client::new();
    let url = desk.method_url(&desk.proxy_url, "sendDocument");
    let mut worst: f64 = 0.0;
    for n in 1..=uploads {
        for sized in [true, false] {
            let added = upload_once(&mut desk, &client, &url, size, sized)
                .await
                .with_context(|| format!("upload {n}"))?;
            worst = worst.max(added.megabytes);
            println!(
                "upload: {n} of {uploads}, {}: {size_mb} MB in {:.2} s ({:.0} MB/s); switchboard's \
                 VmHWM {:.1} MB before (reset to VmRSS), {:.1} MB after: +{:.1} MB (target <= \
                 +{TARGET_ADDED_MB} MB: {}); VmRSS {:.1} MB after",
                if sized {
                    "with a Content-Length"
                } else {
                    "chunked"
                },
                added.took.as_secs_f64(),
                mb_per_sec(size, added.took),
                mb(added.before),
                mb(added.after),
                added.megabytes,
                verdict(added.megabytes <= TARGET_ADDED_MB),
                mb(proc_status_kb(pid, "VmRSS")?)
            );
        }
    }
    println!(
        "upload: the most any upload added to switchboard's peak memory: {worst:.1} MB (target <= \
         +{TARGET_ADDED_MB} MB: {})",
        verdict(worst <= TARGET_ADDED_MB)
    );
    desk.child.kill();
    desk.fake.shutdown();
    desk.child.print_log("upload");
    Ok(())
}

/// What one upload took, and what it added to switchboard's peak memory.
struct Added {
    took: Duration,
    /// `VmHWM` in kB, just reset, before; after.
    before: u64,
    after: u64,
    /// The difference, in MB.
    megabytes: f64,
}

/// One `sendDocument` of `size` bytes through the proxy, with a
/// `Content-Length` (`sized`) or chunked; checks the answer and waits
/// until the mirror is made.
async fn upload_once(
    desk: &mut ProxyDesk,
    client: &reqwest::Client,
    url: &str,
    size: usize,
    sized: bool,
) -> anyhow::Result<Added> {
    let pid = desk.pid();
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5")
        .context("resetting switchboard's VmHWM (/proc/<pid>/clear_refs)")?;
    let before = proc_status_kb(pid, "VmHWM")?;
    let (content_type, length, body) = multipart(desk.user.id, size);
    let mut call = client
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, content_type)
        .body(body)
        .timeout(UPLOAD_LIMIT);
    if sized {
        call = call.header(reqwest::header::CONTENT_LENGTH, length);
    }
    let started = Instant::now();
    let answer = call.send().await.context("uploading through the proxy")?;
    let status = answer.status();
    let json: serde_json::Value = answer.json().await.context("reading the answer")?;
    let took = started.elapsed();
    let stored = json["result"]["document"]["file_size"].as_u64();
    if !status.is_success() || stored != Some(u64::try_from(size)?) {
        bail!("{status}, {json}");
    }
    wait_settled(&desk.database, 1, &mut desk.child)
        .await
        .context("mirroring the document")?;
    let after = proc_status_kb(pid, "VmHWM")?;
    Ok(Added {
        took,
        before,
        after,
        megabytes: mb(after.saturating_sub(before)),
    })
}

fn mb_per_sec(bytes: usize, took: Duration) -> f64 {
    #[allow(clippy::cast_precision_loss)]
    let megabytes = bytes as f64 / 1024.0 / 1024.0;
    megabytes / took.as_secs_f64().max(1e-9)
}

/// A `sendDocument` body of `size` bytes of file to `chat_id`: its content
/// type, its length, and the body as a stream made while it is sent.
fn multipart(chat_id: i64, size: usize) -> (String, u64, reqwest::Body) {
    let head = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"chat_id\"\r\n\r\n{chat_id}\r\n\
         --{BOUNDARY}\r\nContent-Disposition: form-data; name=\"document\"; filename=\"report.bin\"\r\n\
         Content-Type: application/octet-stream\r\n\r\n"
    );
    let tail = format!("\r\n--{BOUNDARY}--\r\n");
    let length = (head.len() + size + tail.len()) as u64;
    #[allow(clippy::cast_possible_truncation)]
    let chunk: Bytes = (0..CHUNK)
        .map(|i| (i % 251) as u8)
        .collect::<Vec<u8>>()
        .into();
    let pieces = std::iter::once(Bytes::from(head))
        .chain((0..size.div_ceil(CHUNK)).map(move |i| chunk.slice(..CHUNK.min(size - i * CHUNK))))
        .chain(std::iter::once(Bytes::from(tail)))
        .map(Ok::<Bytes, std::io::Error>);
    let stream = futures_util::stream::iter(pieces);
    (
        format!("multipart/form-data; boundary={BOUNDARY}"),
        length,
        reqwest::Body::wrap_stream(stream),
    )
}
