//! Live pulls: the fire crew's phone waits on a long poll; the dispatcher's alarm reaches it
//! as soon as it is stored.

use std::time::{Duration, Instant};

use gridwork_domain::model::{Case, CaseKind, Severity};
use gridwork_domain::sync::Role;
use gridwork_domain::workflow::CaseAction;
use gridwork_server::clock;
use uuid::Uuid;

use crate::common::{Backend, TestServer, accepted, on_both_backends};

/// A failure guard, not a timing check: far longer than a woken poll takes to answer, and still
/// well short of the 30 s the polls here wait, so a poll that was never woken fails the test.
const BEFORE_THE_WAIT_RUNS_OUT: Duration = Duration::from_secs(20);

async fn a_waiting_crew_phone_gets_the_alarm_as_soon_as_the_dispatcher_pushes_it<S: Backend>() {
    let server = TestServer::<S>::fresh().await;
    let mut dispatcher = server.phone("调度员", Role::Admin).await;
    let crew = server.phone("消防队员", Role::Admin).await;
    let cursor = server.pull(&crew, 0, 10, 0).await.next;

    let crew_url = server.url(&format!("/v1/pull?after={cursor}&wait=30"));
    let crew_poll = tokio::spawn({
        let http = server.http.clone();
        let token = crew.token.clone();
        async move { http.get(crew_url).bearer_auth(token).send().await.unwrap() }
    });
    // Let the poll reach the server and start waiting.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!crew_poll.is_finished(), "nothing new yet: the poll waits");

    let alarm = Case {
        id: Uuid::now_v7(),
        kind: CaseKind::Alarm,
        title: "3幢2单元冒烟".into(),
        category: "smoke".into(),
        severity: Severity::Critical,
        area_id: Uuid::now_v7(),
        building_id: None,
        household_id: None,
        position: None,
        opened_at_ms: clock::now_ms(),
        patrol_id: None,
    };
    let station = Uuid::now_v7();
    let ops = vec![
        dispatcher.create(&alarm),
        dispatcher.event(
            alarm.id,
            CaseAction::Dispatch {
                station_id: station,
            },
        ),
    ];
    let seq = accepted(&server.push(&dispatcher, &ops).await.results[0]);

    let res = tokio::time::timeout(BEFORE_THE_WAIT_RUNS_OUT, crew_poll)
        .await
        .expect("woken by the push, before its 30 s wait ran out")
        .unwrap();
    assert_eq!(res.status(), 200);
    let page: gridwork_domain::sync::PullResponse = res.json().await.unwrap();
    assert_eq!(page.ops.first().map(|o| o.seq), Some(seq));
    assert!(page.ops.iter().any(|o| o.op.entity_id == alarm.id));
}

async fn a_poll_with_nothing_new_answers_empty_when_its_wait_runs_out<S: Backend>() {
    let server = TestServer::<S>::fresh().await;
    let crew = server.phone("消防队员", Role::Admin).await;
    let started = Instant::now();
    let page = server.pull(&crew, 0, 10, 1).await;
    assert!(page.ops.is_empty());
    assert_eq!(page.next, 0);
    // It waited out its second rather than answering at once (a lower bound only: a slow
    // machine makes it longer, never shorter).
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(900), "{waited:?}");
}

async fn stopping_the_server_ends_waiting_polls<S: Backend>() {
    let mut server = TestServer::<S>::fresh().await;
    let crew = server.phone("消防队员", Role::Admin).await;
    let poll = tokio::spawn({
        let http = server.http.clone();
        let url = server.url("/v1/pull?after=0&wait=30");
        let token = crew.token.clone();
        async move {
            http.get(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
        }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let stopping = server.handle.take().unwrap().shutdown();
    tokio::time::timeout(BEFORE_THE_WAIT_RUNS_OUT, stopping)
        .await
        .expect("the server stopped without waiting for the poll's 30 s")
        .unwrap();
    let status = tokio::time::timeout(BEFORE_THE_WAIT_RUNS_OUT, poll)
        .await
        .expect("the waiting poll was answered")
        .unwrap();
    assert_eq!(status, 200);
}

on_both_backends!(
    a_waiting_crew_phone_gets_the_alarm_as_soon_as_the_dispatcher_pushes_it,
    a_poll_with_nothing_new_answers_empty_when_its_wait_runs_out,
    stopping_the_server_ends_waiting_polls,
);

/// Issue 22: an operator's `gridwork-server import`, a process of its own writing the SQLite
/// file the server serves, wakes the phones waiting on it (the watcher of `sqlite/foreign.rs`;
/// PostgreSQL does it with NOTIFY). Without it, the poll would wait out its 30 s and answer
/// empty.
#[tokio::test]
async fn an_import_by_another_process_wakes_a_waiting_poll_on_sqlite() {
    let server = TestServer::start().await;
    let admin = server.phone("区管理员", Role::Admin).await;
    let cursor = server.pull(&admin, 0, 10, 0).await.next;

    let url = server.url(&format!("/v1/pull?after={cursor}&wait=30"));
    let poll = tokio::spawn({
        let http = server.http.clone();
        let token = admin.token.clone();
        async move { http.get(url).bearer_auth(token).send().await.unwrap() }
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!poll.is_finished(), "nothing new yet: the poll waits");

    let files = tempfile::tempdir().unwrap();
    std::fs::write(
        files.path().join("区域.csv"),
        "区域编码,区域名称,层级,上级编码\n330106,西湖区,区,\n330106001,北山街道,街道,330106\n",
    )
    .unwrap();
    let db = server.db_path();
    let dir = files.path().to_path_buf();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(crate::cli::BIN)
            .env_remove("GRIDWORK_DATABASE_URL")
            .arg("import")
            .arg("--db")
            .arg(&db)
            .arg(&dir)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let res = tokio::time::timeout(BEFORE_THE_WAIT_RUNS_OUT, poll)
        .await
        .expect("woken by the import, before its 30 s wait ran out")
        .unwrap();
    assert_eq!(res.status(), 200);
    let page: gridwork_domain::sync::PullResponse = res.json().await.unwrap();
    assert!(
        page.ops.len() >= 2,
        "the two imported areas reach the waiting phone: {} ops",
        page.ops.len()
    );
}
