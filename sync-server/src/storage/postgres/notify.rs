//! Waking long polls across server processes with LISTEN/NOTIFY.
//!
//! Every push that stores something notifies a channel, in its transaction, so PostgreSQL
//! delivers it after the commit and to every connection that LISTENs. The payload names the
//! push's last log position and the buckets it touched ([`payload`]): each server process keeps
//! one connection outside its pool that listens, moves its `watch` (the one
//! [`crate::storage::Storage::subscribe`] hands out) forward and wakes only the polls waiting on
//! those buckets ([`Wakeups::wake`]). A push touching more buckets than a notification holds
//! says `*`, and every poll wakes. If the connection drops, it reconnects with a growing pause,
//! re-reads the log's end and wakes every poll, so a notification lost while it was away is not
//! waited for.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_postgres::{AsyncMessage, Config, NoTls};

use gridwork_domain::scope::Bucket;

use super::open::Target;
use crate::storage::{StorageError, Wakeups};

/// PostgreSQL refuses payloads of 8,000 bytes or more; the rest of a longer list wakes all.
const MAX_PAYLOAD: usize = 7_900;

/// One push's notification: the process that stored it (which woke its own polls already),
/// the last log position it stored, and the buckets it touched (`None`: too many to name, every
/// poll looks).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub origin: u64,
    pub last: u64,
    pub buckets: Option<Vec<Bucket>>,
}

/// The text of a notice: origin, position, then each bucket in hex, separated by spaces; `*`
/// instead of the buckets when they do not fit.
///
/// ```
/// use gridwork_domain::scope::Bucket;
/// use gridwork_server::storage::postgres::notify::{Notice, parse, payload};
/// use uuid::Uuid;
///
/// let grid = Bucket::Under(Uuid::now_v7());
/// let text = payload(7, 42, &[grid]);
/// assert_eq!(parse(&text), Some(Notice { origin: 7, last: 42, buckets: Some(vec![grid]) }));
/// let many: Vec<Bucket> = (0..1000).map(|_| Bucket::Under(Uuid::now_v7())).collect();
/// assert_eq!(parse(&payload(7, 43, &many)).unwrap().buckets, None);
/// ```
pub fn payload(origin: u64, last: u64, touched: &[Bucket]) -> String {
    let mut text = format!("{origin} {last}");
    if (touched.len() * 35) + text.len() > MAX_PAYLOAD {
        text.push_str(" *");
        return text;
    }
    for bucket in touched {
        text.push(' ');
        text.push_str(&bucket.to_hex());
    }
    text
}

/// The notices of a commit that stored up to `last` and touched `touched`: one, or as many as
/// it takes to name every bucket within PostgreSQL's payload limit (a group of pushes touches
/// many grids; naming them all keeps other processes from waking every poll).
///
/// ```
/// use gridwork_domain::scope::Bucket;
/// use gridwork_server::storage::postgres::notify::{parse, payloads};
/// use uuid::Uuid;
///
/// let many: Vec<Bucket> = (0..1000).map(|_| Bucket::Under(Uuid::now_v7())).collect();
/// let texts = payloads(7, 43, &many);
/// assert!(texts.len() > 1 && texts.iter().all(|t| t.len() < 8_000));
/// let named: Vec<Bucket> = texts.iter().flat_map(|t| parse(t).unwrap().buckets.unwrap()).collect();
/// assert_eq!(named, many);
/// assert_eq!(payloads(7, 44, &[]), vec!["7 44".to_string()]);
/// ```
pub fn payloads(origin: u64, last: u64, touched: &[Bucket]) -> Vec<String> {
    let head = format!("{origin} {last}");
    let per = ((MAX_PAYLOAD - head.len()) / 35).max(1);
    if touched.is_empty() {
        return vec![head];
    }
    touched
        .chunks(per)
        .map(|chunk| payload(origin, last, chunk))
        .collect()
}

/// A notice from its text; `None` when it is not one.
pub fn parse(text: &str) -> Option<Notice> {
    let mut parts = text.split(' ');
    let origin = parts.next()?.parse().ok()?;
    let last = parts.next()?.parse().ok()?;
    let mut buckets = Vec::new();
    for part in parts {
        if part == "*" {
            return Some(Notice {
                origin,
                last,
                buckets: None,
            });
        }
        buckets.push(Bucket::from_hex(part)?);
    }
    Some(Notice {
        origin,
        last,
        buckets: Some(buckets),
    })
}

/// The channel of one schema's log: deployments sharing a database in different schemas do
/// not wake each other.
pub fn channel(schema: &str) -> String {
    format!("gridwork_ops.{schema}")
}

/// Moves `last` forward to `seq` (never back), telling the waiters only when it moved.
pub fn advance(last: &watch::Sender<u64>, seq: u64) {
    last.send_if_modified(|seen| {
        let moved = seq > *seen;
        *seen = (*seen).max(seq);
        moved
    });
}

/// The listening task; stops when dropped (with the storage that owns it).
#[derive(Debug)]
pub struct Listener(JoinHandle<()>);

impl Drop for Listener {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The first pause after the listening connection drops; it doubles up to [`MAX_PAUSE`].
const FIRST_PAUSE: Duration = Duration::from_millis(100);
const MAX_PAUSE: Duration = Duration::from_secs(5);

/// Starts listening on `channel`, moving `last` forward with every notification. Returns once
/// the first LISTEN is in place, so nothing committed after `spawn` returns goes unheard.
pub async fn spawn(
    target: Target,
    channel: String,
    origin: u64,
    last: Arc<watch::Sender<u64>>,
    wakeups: Arc<Wakeups>,
) -> Result<Listener, StorageError> {
    let first = listen(&target.config, &channel, &last)
        .await
        .map_err(|e| target.unreachable(e))?;
    let task = tokio::spawn(async move {
        let mut connection = first;
        let mut pause = FIRST_PAUSE;
        loop {
            match relay(connection, origin, &last, &wakeups).await {
                Ok(()) => tracing::warn!(db = %target.name, "the notification connection closed"),
                Err(e) => {
                    tracing::warn!(db = %target.name, error = %e, "the notification connection failed")
                }
            }
            connection = loop {
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(MAX_PAUSE);
                match listen(&target.config, &channel, &last).await {
                    Ok(c) => break c,
                    Err(e) => {
                        tracing::warn!(db = %target.name, error = %e, "cannot listen for notifications")
                    }
                }
            };
            tracing::info!(db = %target.name, "listening for notifications again");
            // Notifications sent while nobody listened are lost: every poll looks again.
            wakeups.wake_all(*last.borrow());
            pause = FIRST_PAUSE;
        }
    });
    Ok(Listener(task))
}

/// A connection listening on `channel`, after the log's end was read into `last` (covering
/// whatever was stored while nobody listened).
async fn listen(
    config: &Config,
    channel: &str,
    last: &watch::Sender<u64>,
) -> Result<Listening, tokio_postgres::Error> {
    // Named apart from the pool's connections in `pg_stat_activity`.
    let mut config = config.clone();
    let app = config
        .get_application_name()
        .unwrap_or("gridwork-server")
        .to_owned();
    config.application_name(format!("{app} (notifications)"));
    let (client, mut connection) = config.connect(NoTls).await?;
    let (messages, inbox) = tokio::sync::mpsc::unbounded_channel();
    // The connection does the I/O of both the client's queries and the notifications.
    let driver = tokio::spawn(async move {
        while let Some(message) = std::future::poll_fn(|cx| connection.poll_message(cx)).await {
            let failed = message.is_err();
            if messages.send(message).is_err() || failed {
                break;
            }
        }
    });
    // If LISTEN fails, dropping the client ends the connection and so the driver.
    let quoted = channel.replace('"', "\"\"");
    client
        .batch_execute(&format!("LISTEN \"{quoted}\""))
        .await?;
    let end: Option<i64> = client
        .query_one("SELECT max(seq) FROM ops", &[])
        .await?
        .get(0);
    advance(last, end.unwrap_or(0) as u64);
    let listening = Listening {
        _client: client,
        inbox,
        driver,
    };
    Ok(listening)
}

/// A listening connection and the messages its driver task passes on.
struct Listening {
    /// Kept so the connection stays open.
    _client: tokio_postgres::Client,
    inbox: tokio::sync::mpsc::UnboundedReceiver<Result<AsyncMessage, tokio_postgres::Error>>,
    driver: JoinHandle<()>,
}

impl Drop for Listening {
    fn drop(&mut self) {
        self.driver.abort();
    }
}

/// Passes notifications on to `last` and the waiting polls until the connection ends.
async fn relay(
    mut listening: Listening,
    origin: u64,
    last: &watch::Sender<u64>,
    wakeups: &Wakeups,
) -> Result<(), tokio_postgres::Error> {
    while let Some(message) = listening.inbox.recv().await {
        if let AsyncMessage::Notification(n) = message? {
            match parse(n.payload()) {
                Some(notice) => {
                    advance(last, notice.last);
                    // This process's own pushes woke its polls when they committed.
                    if notice.origin != origin {
                        match notice.buckets {
                            Some(buckets) => wakeups.wake(&buckets, notice.last),
                            None => wakeups.wake_all(notice.last),
                        };
                    }
                }
                None => tracing::warn!(
                    channel = n.channel(),
                    "a notification that is not a log position and buckets"
                ),
            }
        }
    }
    Ok(())
}
