//! Scale-out: two `gridwork-server serve --database URL` processes on one PostgreSQL database,
//! as behind a load balancer. Phones connected to different processes converge, and a phone's
//! long poll on one process returns when another phone pushes through the other (LISTEN/NOTIFY).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use gridwork_core::seed::{SeedSize, seed_subdistrict};
use gridwork_domain::model::Household;
use gridwork_domain::sync::Role;
use gridwork_server::storage::postgres::ScratchDatabase;
use gridwork_server::storage::{PgStorage, Storage};

use crate::harness::Device;

/// A `gridwork-server serve --database URL` process on a free port, killed when dropped.
struct ServerProcess {
    child: Child,
    url: String,
}

impl ServerProcess {
    fn start(database: &str) -> ServerProcess {
        let mut child = Command::new(env!("CARGO_BIN_EXE_gridwork-server-e2e"))
            .args(["serve", "--database", database, "--listen", "127.0.0.1:0"])
            .env_remove("GRIDWORK_DATABASE_URL")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("the server did not start: {line:?}"))
            .to_string();
        ServerProcess { child, url }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An admin user (empty scope: everything) and a one-time code for their phone.
async fn code(admin: &PgStorage, name: &str) -> String {
    let user = admin
        .create_user(name.into(), Role::Admin, vec![])
        .await
        .unwrap();
    admin
        .create_enrollment_code(user.id, gridwork_server::clock::now_ms())
        .await
        .unwrap()
}

#[tokio::test]
async fn phones_on_two_server_processes_sharing_one_postgresql_database_converge() {
    let db = ScratchDatabase::for_test().await;
    let admin = PgStorage::connect(db.url()).await.unwrap();
    let east = ServerProcess::start(db.url());
    let west = ServerProcess::start(db.url());

    let zhang = Device::enrolled_at(&east.url, &code(&admin, "张伟").await, "张伟", 0).await;
    let li = Device::enrolled_at(&west.url, &code(&admin, "李娜").await, "李娜", 0).await;
    zhang.sync().await;
    let seeded = seed_subdistrict(&zhang.gw, 11, SeedSize::TINY, |_, _| {}).unwrap();
    zhang.sync().await;
    li.sync().await;
    assert_eq!(
        zhang.gw.state_digest().unwrap(),
        li.gw.state_digest().unwrap(),
        "what went in through one process comes out of the other"
    );

    // Both offline: the same household's phone (a conflict), and two other edits.
    let h = seeded.households[0].id;
    zhang
        .gw
        .update::<Household>(h, |h| h.phone = Some("13811112222".into()))
        .unwrap();
    li.advance_ms(60_000);
    li.gw
        .update::<Household>(h, |h| h.phone = Some("13933334444".into()))
        .unwrap();
    li.gw
        .update::<Household>(seeded.households[1].id, |h| h.unit = "3-302".into())
        .unwrap();
    zhang.sync().await;
    li.sync().await;
    zhang.sync().await;
    assert_eq!(
        zhang.gw.get::<Household>(h).unwrap().phone.as_deref(),
        Some("13933334444"),
        "the later edit wins on both"
    );
    assert_eq!(
        zhang.gw.state_digest().unwrap(),
        li.gw.state_digest().unwrap()
    );

    // 张伟's phone waits on the east process; 李娜 pushes through the west one. Without the
    // notification, the east process would not look before the 20 s wait ran out and the poll
    // would come back empty.
    let waiting = async { zhang.gw.wait_for_changes(&zhang.net, 20).await.unwrap() };
    let pushing = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        li.gw
            .update::<Household>(seeded.households[2].id, |h| h.unit = "5-501".into())
            .unwrap();
        li.sync().await;
    };
    let (report, ()) = tokio::join!(waiting, pushing);
    assert!(
        report.pulled >= 1,
        "the long poll on the east process returned with the west process's news"
    );
    zhang.sync().await;
    assert_eq!(
        zhang
            .gw
            .get::<Household>(seeded.households[2].id)
            .unwrap()
            .unit,
        "5-501"
    );
    assert_eq!(
        zhang.gw.state_digest().unwrap(),
        li.gw.state_digest().unwrap()
    );
}
