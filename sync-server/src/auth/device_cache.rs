//! The token check and the user's view, cached per device so that a request costs the same
//! whatever the size of the city: without it, every pull read the device's credentials and then
//! the place of every entry of its user's scope.
//!
//! A cached entry is good while the storage's accounts version ([`Storage::accounts_version`])
//! is the one it was read at. The version moves, in the same transaction, when a device is
//! revoked, a user's scope is replaced, or a push places anew a record some user's scope names
//! (that user's anchors), by this process or any other on the same database. Every request reads
//! the version (one row), so a revocation takes effect on the very next request, as before.
//! The token itself is checked on every request against the cached hash, in constant time.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use gridwork_domain::ids::DeviceId;
use gridwork_domain::scope::ScopeView;

use crate::auth;
use crate::storage::{AuthedDevice, Storage, StorageError};

/// Devices remembered at most; when full, the cache starts over (simple, and a full cache of a
/// city's phones is a few tens of megabytes).
const MAX_DEVICES: usize = 200_000;

/// What one device's requests need, as read at one accounts version.
#[derive(Debug, Clone)]
struct Entry {
    version: u64,
    token_hash: String,
    device: AuthedDevice,
    view: ScopeView,
}

/// A device that presented a valid token, with its user's view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    pub device: AuthedDevice,
    pub view: ScopeView,
}

/// The cache of one server process.
#[derive(Debug, Default)]
pub struct DeviceCache {
    entries: Mutex<HashMap<DeviceId, Entry>>,
}

impl DeviceCache {
    /// The device a bearer token belongs to, with its user's view; `None` when the token is
    /// malformed, unknown or revoked.
    pub async fn check<S: Storage>(
        &self,
        storage: &S,
        token: &str,
    ) -> Result<Option<Checked>, StorageError> {
        let Some(device) = auth::token_device(token) else {
            return Ok(None);
        };
        // Read before anything else: an entry made from reads that follow is at least this new.
        let version = storage.accounts_version().await?;
        let presented = auth::hash_token(token);
        if let Some(entry) = self.lock().get(&device)
            && entry.version == version
        {
            if !auth::constant_time_eq(presented.as_bytes(), entry.token_hash.as_bytes()) {
                return Ok(None);
            }
            return Ok(Some(Checked {
                device: entry.device.clone(),
                view: entry.view.clone(),
            }));
        }
        let Some(creds) = storage.device_credentials(device).await? else {
            return Ok(None);
        };
        if creds.revoked {
            return Ok(None);
        }
        let view = storage.scope_view(&creds.user).await?;
        let checked = Checked {
            device: AuthedDevice {
                device,
                user: creds.user,
            },
            view,
        };
        {
            let mut entries = self.lock();
            if entries.len() >= MAX_DEVICES {
                entries.clear();
            }
            entries.insert(
                device,
                Entry {
                    version,
                    token_hash: creds.token_hash.clone(),
                    device: checked.device.clone(),
                    view: checked.view.clone(),
                },
            );
        }
        if !auth::constant_time_eq(presented.as_bytes(), creds.token_hash.as_bytes()) {
            return Ok(None);
        }
        Ok(Some(checked))
    }

    /// The view cached for `device` with its last check, if any.
    pub fn view(&self, device: DeviceId) -> Option<ScopeView> {
        self.lock().get(&device).map(|e| e.view.clone())
    }

    /// How many devices are remembered.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<DeviceId, Entry>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }
}
