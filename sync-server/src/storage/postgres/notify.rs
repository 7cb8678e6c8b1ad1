//! Waking long polls across server processes with LISTEN/NOTIFY.
//!
//! Every push that stores something notifies a channel with the new last sequence number, in
//! its transaction, so PostgreSQL delivers it after the commit and to every connection that
//! LISTENs, in commit order. Each server process keeps one connection outside its pool that
//! listens and moves its `watch` (the one [`crate::storage::Storage::subscribe`] hands out)
//! forward. If that connection drops, it reconnects with a growing pause and re-reads the log's
//! end, so a notification lost while it was away still wakes the waiting polls.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_postgres::{AsyncMessage, Config, NoTls};

use super::open::Target;
use crate::storage::StorageError;

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
    last: Arc<watch::Sender<u64>>,
) -> Result<Listener, StorageError> {
    let first = listen(&target.config, &channel, &last)
        .await
        .map_err(|e| target.unreachable(e))?;
    let task = tokio::spawn(async move {
        let mut connection = first;
        let mut pause = FIRST_PAUSE;
        loop {
            match relay(connection, &last).await {
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

/// Passes notifications on to `last` until the connection ends.
async fn relay(
    mut listening: Listening,
    last: &watch::Sender<u64>,
) -> Result<(), tokio_postgres::Error> {
    while let Some(message) = listening.inbox.recv().await {
        if let AsyncMessage::Notification(n) = message? {
            match n.payload().parse::<u64>() {
                Ok(seq) => advance(last, seq),
                Err(_) => tracing::warn!(
                    channel = n.channel(),
                    "a notification without a sequence number"
                ),
            }
        }
    }
    Ok(())
}
