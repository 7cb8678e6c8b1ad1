//! The people of the demo and their phones: a store on disk, a transport to the in-process
//! server, and the shared simulated clock.

use std::path::Path;

use gridwork_core::{Gridwork, HttpTransport, OpenOptions, SyncReport};
use gridwork_domain::ids::Id;
use gridwork_domain::sync::Role;
use gridwork_server::storage::{SqliteStorage, Storage};

use super::SimClock;

/// One person's phone.
pub struct Phone {
    pub name: &'static str,
    pub role: Role,
    pub scope: Vec<Id>,
    pub gw: Gridwork,
    pub net: HttpTransport,
}

impl Phone {
    /// Makes the user on the server, prints a one-time code, and enrolls a new phone with it.
    pub async fn enroll(
        dir: &Path,
        server_url: &str,
        storage: &SqliteStorage,
        clock: &SimClock,
        name: &'static str,
        role: Role,
        scope: Vec<Id>,
    ) -> Result<Phone, Box<dyn std::error::Error>> {
        let user = storage
            .create_user(name.into(), role, scope.clone())
            .await?;
        let code = storage.create_enrollment_code(user.id, clock.now()).await?;
        let gw = Gridwork::open_with(
            dir.join(format!("phone-{name}.db")),
            OpenOptions {
                clock: clock.wall(),
                key: None,
                ..OpenOptions::default()
            },
        )?;
        let net = HttpTransport::new(server_url, None)?;
        gw.enroll(&net, &code, &format!("{name}的手机")).await?;
        Ok(Phone {
            name,
            role,
            scope,
            gw,
            net,
        })
    }

    /// The digest of a fresh phone enrolled now for a new user with this phone's role and
    /// scope: exactly what this phone must hold once synced, no more and no less.
    pub async fn reference_digest(
        &self,
        dir: &Path,
        server_url: &str,
        storage: &SqliteStorage,
        clock: &SimClock,
    ) -> Result<String, Box<dyn std::error::Error>> {
        let folder = dir.join(format!("check-{}", self.name));
        std::fs::create_dir_all(&folder)?;
        let check = Phone::enroll(
            &folder,
            server_url,
            storage,
            clock,
            "核对",
            self.role,
            self.scope.clone(),
        )
        .await?;
        check.sync().await?;
        Ok(check.gw.state_digest()?)
    }

    pub async fn sync(&self) -> Result<SyncReport, gridwork_core::SyncError> {
        self.gw.sync_now(&self.net).await
    }
}
