//! How busy a storage's database connections are, for the metrics (`/metrics`,
//! `gridwork_storage_connections`): read at each scrape, never kept.

/// A storage's connections at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PoolStatus {
    /// Connections open now (idle or in use).
    pub open: usize,
    /// Connections answering a request now.
    pub in_use: usize,
    /// The most the storage opens (for SQLite: the writer and its readers).
    pub max: usize,
    /// Requests waiting for a connection (PostgreSQL's pool; for SQLite, writes queued behind
    /// the one the writer thread runs, and reads waiting for a read connection).
    pub waiting: usize,
}
