//! Fixtures for the server tests: a server on a free loopback port over a fresh database (a
//! SQLite file, or a PostgreSQL scratch database for the tests [`on_both_backends!`] runs on
//! both), phones that enroll and stamp operations with their own clock, and a small town
//! (西湖区 → 北山街道 → 第一网层 → 梅花碑社区 → 第一网格) written as operations.

use std::future::Future;
use std::sync::Arc;

use gridwork_domain::hlc::{Hlc, HlcClock, Stamp};
use gridwork_domain::ids::{DeviceId, Id};
use gridwork_domain::model::*;
use gridwork_domain::op::{EntityKind, FieldWrite, Op, OpBody};
use gridwork_domain::scope::ScopeView;
use gridwork_domain::sync::*;
use gridwork_domain::validate::resident_id;
use gridwork_domain::workflow::{CaseAction, CaseEvent};
use gridwork_server::clock;
use gridwork_server::rules::PushContext;
use gridwork_server::storage::postgres::ScratchDatabase;
use gridwork_server::storage::{PgStorage, ScopeFilter, SqliteStorage, Storage, User};
use gridwork_server::{ServerHandle, ServerOptions, serve_with};
use serde_json::Value;
use tempfile::TempDir;
use uuid::Uuid;

/// A valid 18-digit resident ID number for a birth date (`YYYYMMDD`) and a serial.
pub fn id_number(birth: &str, serial: u16) -> String {
    let first17 = format!("330106{birth}{serial:03}");
    let check = resident_id::check_digit(&first17).expect("17 digits");
    format!("{first17}{check}")
}

/// A storage backend the HTTP tests run on: how to make a fresh database for one test, and how
/// a server process opens it. [`on_both_backends!`] runs a test on each.
pub trait Backend: Storage + Sized {
    /// What keeps the database alive: a temporary folder, a scratch database on the test
    /// PostgreSQL server. Dropped after the storage.
    type Database;

    /// A new, empty database of this backend's own.
    fn create() -> impl Future<Output = Self::Database>;

    /// Opens (migrating if needed) the storage on it, as a server process starting would.
    fn open(database: &Self::Database) -> impl Future<Output = Self>;
}

impl Backend for SqliteStorage {
    type Database = TempDir;

    async fn create() -> TempDir {
        tempfile::tempdir().unwrap()
    }

    async fn open(dir: &TempDir) -> SqliteStorage {
        SqliteStorage::open(dir.path().join("server.db")).unwrap()
    }
}

impl Backend for PgStorage {
    type Database = ScratchDatabase;

    /// A database on the server of `GRIDWORK_TEST_DATABASE_URL`: the test fails without one.
    async fn create() -> ScratchDatabase {
        ScratchDatabase::for_test().await
    }

    async fn open(db: &ScratchDatabase) -> PgStorage {
        PgStorage::connect(db.url()).await.unwrap()
    }
}

/// A server on 127.0.0.1:0 over a fresh database of backend `S` (SQLite unless named).
pub struct TestServer<S: Backend = SqliteStorage> {
    pub storage: Arc<S>,
    pub handle: Option<ServerHandle>,
    pub http: reqwest::Client,
    options: ServerOptions,
    /// Declared last so it is dropped last: the storage closes before its database goes.
    database: S::Database,
}

impl TestServer {
    /// A server over a SQLite file in a temporary folder.
    pub async fn start() -> TestServer {
        TestServer::fresh().await
    }

    /// A SQLite server with other options (rate limits, TLS).
    pub async fn start_with(options: ServerOptions) -> TestServer {
        TestServer::fresh_with(options).await
    }

    pub fn db_path(&self) -> std::path::PathBuf {
        self.database.path().join("server.db")
    }
}

impl<S: Backend> TestServer<S> {
    /// A server over a fresh database of backend `S`.
    pub async fn fresh() -> TestServer<S> {
        TestServer::fresh_with(ServerOptions::default()).await
    }

    /// [`TestServer::fresh`] with other options.
    pub async fn fresh_with(options: ServerOptions) -> TestServer<S> {
        let database = S::create().await;
        let storage = Arc::new(S::open(&database).await);
        let handle = Some(listen(storage.clone(), options.clone()).await);
        TestServer {
            storage,
            handle,
            http: reqwest::Client::new(),
            options,
            database,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.handle.as_ref().expect("running").url())
    }

    /// Stops the server, drops the storage, opens the same database again and serves it on a
    /// new port: what a restart after a deploy (or a crash) looks like to the devices.
    pub async fn restart(&mut self) {
        self.handle
            .take()
            .expect("running")
            .shutdown()
            .await
            .unwrap();
        let old = std::mem::replace(&mut self.storage, Arc::new(S::open(&self.database).await));
        drop(old);
        self.handle = Some(listen(self.storage.clone(), self.options.clone()).await);
    }

    /// A user made by the admin.
    pub async fn user(&self, name: &str, role: Role) -> Id {
        self.storage
            .create_user(name.into(), role, vec![])
            .await
            .unwrap()
            .id
    }

    /// A one-time code for `user`.
    pub async fn code(&self, user: Id) -> String {
        self.storage
            .create_enrollment_code(user, clock::now_ms())
            .await
            .unwrap()
    }

    /// A new phone enrolled for a new user.
    pub async fn phone(&self, name: &str, role: Role) -> Phone {
        let user = self.user(name, role).await;
        self.enroll(user, &format!("{name}的手机")).await
    }

    /// A phone of `user`, enrolled through `/v1/enroll` with a one-time code.
    pub async fn enroll(&self, user: Id, device_name: &str) -> Phone {
        let code = self.code(user).await;
        let device = Uuid::now_v7();
        let answer: EnrollResponse = self
            .post(
                "/v1/enroll",
                None,
                &EnrollRequest {
                    code,
                    device_id: device,
                    device_name: device_name.into(),
                },
            )
            .await
            .json()
            .await
            .unwrap();
        Phone::new(device, answer.token)
    }

    /// POSTs JSON, with a bearer token when given.
    pub async fn post<T: serde::Serialize>(
        &self,
        path: &str,
        token: Option<&str>,
        body: &T,
    ) -> reqwest::Response {
        let mut req = self.http.post(self.url(path)).json(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.unwrap()
    }

    /// GETs with a bearer token.
    pub async fn get(&self, path: &str, token: &str) -> reqwest::Response {
        self.http
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    /// Pushes and expects 200.
    pub async fn push(&self, phone: &Phone, ops: &[Op]) -> PushResponse {
        let res = self
            .post(
                "/v1/push",
                Some(&phone.token),
                &PushRequest { ops: ops.to_vec() },
            )
            .await;
        assert_eq!(
            res.status(),
            200,
            "push answered {}",
            res.text().await.unwrap_or_default()
        );
        res.json().await.unwrap()
    }

    /// Pulls and expects 200.
    pub async fn pull(&self, phone: &Phone, after: u64, limit: usize, wait: u64) -> PullResponse {
        let res = self
            .get(
                &format!("/v1/pull?after={after}&limit={limit}&wait={wait}"),
                &phone.token,
            )
            .await;
        assert_eq!(res.status(), 200);
        res.json().await.unwrap()
    }

    /// Fetches one snapshot page and expects 200.
    pub async fn snapshot(
        &self,
        phone: &Phone,
        after: Option<Id>,
        limit: usize,
    ) -> SnapshotResponse {
        let path = match after {
            Some(a) => format!("/v1/snapshot?after={a}&limit={limit}"),
            None => format!("/v1/snapshot?limit={limit}"),
        };
        let res = self.get(&path, &phone.token).await;
        assert_eq!(res.status(), 200);
        res.json().await.unwrap()
    }
}

async fn listen<S: Storage>(storage: Arc<S>, options: ServerOptions) -> ServerHandle {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    serve_with(listener, storage, options).await.unwrap()
}

/// A device: its id, its token and its hybrid logical clock.
pub struct Phone {
    pub device: DeviceId,
    pub token: String,
    pub clock: HlcClock,
}

impl Phone {
    pub fn new(device: DeviceId, token: String) -> Phone {
        Phone {
            device,
            token,
            clock: HlcClock::new(Hlc::ZERO, 0),
        }
    }

    /// A phone that never enrolled, for storage-level tests.
    pub fn offline() -> Phone {
        Phone::new(Uuid::now_v7(), String::new())
    }

    /// The next stamp of this phone's clock.
    pub fn stamp(&mut self) -> Stamp {
        Stamp::new(self.clock.tick(clock::now_ms()).unwrap(), self.device)
    }

    /// Creates `record`: a set of every field but the id.
    pub fn create<T: Entity>(&mut self, record: &T) -> Op {
        let Value::Object(mut fields) = serde_json::to_value(record).unwrap() else {
            panic!()
        };
        fields.remove("id");
        self.set(T::KIND, record.id(), Value::Object(fields))
    }

    /// Sets some fields of a record (as a first write: no base).
    pub fn set(&mut self, kind: EntityKind, id: Id, fields: Value) -> Op {
        let fields = FieldWrite::first_writes(fields.as_object().unwrap());
        Op {
            id: Uuid::now_v7(),
            stamp: self.stamp(),
            entity: kind,
            entity_id: id,
            body: OpBody::Set { fields },
        }
    }

    /// Deletes a record.
    pub fn delete(&mut self, kind: EntityKind, id: Id) -> Op {
        Op {
            id: Uuid::now_v7(),
            stamp: self.stamp(),
            entity: kind,
            entity_id: id,
            body: OpBody::Delete,
        }
    }

    /// A step on a case.
    pub fn event(&mut self, case: Id, action: CaseAction) -> Op {
        let stamp = self.stamp();
        let event = CaseEvent {
            id: Uuid::now_v7(),
            case_id: case,
            stamp,
            actor: None,
            action,
        };
        Op {
            id: Uuid::now_v7(),
            stamp,
            entity: EntityKind::Case,
            entity_id: case,
            body: OpBody::CaseEvent { event },
        }
    }

    /// The context a storage sees when this phone pushes.
    pub fn ctx(&self) -> PushContext {
        PushContext {
            device: self.device,
            user: Uuid::nil(),
            // The whole installation: storage tests exercise admission, not scopes.
            view: ScopeView::new(Role::Admin, vec![], vec![]),
            now_ms: clock::now_ms(),
        }
    }
}

/// A grid with buildings, households, residents and a hazard, as the operations that made it.
pub struct Town {
    pub areas: Vec<Area>,
    pub households: Vec<Household>,
    pub residents: Vec<Resident>,
    pub hazard: Case,
    pub ops: Vec<Op>,
}

impl Town {
    /// The grid's path: the scope key of everything in it.
    pub fn grid_path(&self) -> String {
        self.areas.iter().map(|a| format!("/{}", a.id)).collect()
    }
}

/// 西湖区 → 北山街道 → 第一网层 → 梅花碑社区 → 第一网格 with `n` buildings, a household and a
/// resident in each, and a hazard in the first building with two steps taken on it.
pub fn town(phone: &mut Phone, n: usize) -> Town {
    let mut ops = Vec::new();
    let areas = areas_down(
        phone,
        &mut ops,
        &[(AreaLevel::Grid, "330106001001001", "梅花碑第一网格")],
    );
    let grid = areas.last().unwrap().id;
    let (mut buildings, mut households, mut residents) = (vec![], vec![], vec![]);
    for i in 1..=n {
        let building = Building {
            id: Uuid::now_v7(),
            address_code: format!("330106001001001{i:04}"),
            address: format!("梅花碑社区{i}幢"),
            kind: BuildingKind::Residential,
            grid_id: grid,
            micro_grid_id: None,
            head_user_id: None,
            station_id: None,
            position: None,
        };
        let household = Household {
            id: Uuid::now_v7(),
            building_id: building.id,
            unit: format!("{i}-301"),
            kind: HouseholdKind::Rental,
            phone: Some("13800138000".into()),
            archived: false,
        };
        let resident = Resident {
            id: Uuid::now_v7(),
            household_id: household.id,
            name: format!("住户{i}"),
            id_number: Some(id_number("19800101", i as u16)),
            phone: None,
            key_groups: vec![],
            last_visit_ms: None,
            archived: false,
        };
        ops.push(phone.create(&building));
        ops.push(phone.create(&household));
        ops.push(phone.create(&resident));
        buildings.push(building);
        households.push(household);
        residents.push(resident);
    }
    let hazard = Case {
        id: Uuid::now_v7(),
        kind: CaseKind::Hazard,
        title: "楼道电瓶车充电".into(),
        category: "ebike_indoors".into(),
        severity: Severity::High,
        area_id: grid,
        building_id: buildings.first().map(|b| b.id),
        household_id: None,
        position: None,
        opened_at_ms: clock::now_ms(),
        patrol_id: None,
    };
    ops.push(phone.create(&hazard));
    ops.push(phone.event(
        hazard.id,
        CaseAction::Assign {
            assignee: None,
            deadline_ms: None,
        },
    ));
    ops.push(phone.event(hazard.id, CaseAction::Resolve));
    Town {
        areas,
        households,
        residents,
        hazard,
        ops,
    }
}

/// A subdistrict of `grids` grids under one community, each with `per_grid` buildings holding
/// a household and a resident: the city whose size a phone's pulls must not feel.
pub struct City {
    pub subdistrict: Id,
    pub grids: Vec<Id>,
    /// The households of each grid, in the order of `grids`.
    pub households: Vec<Vec<Id>>,
    /// Every record id of each grid (its area record, buildings, households, residents).
    pub records: Vec<Vec<Id>>,
    pub ops: Vec<Op>,
}

/// 西湖区 → 北山街道 → 第一网层 → 梅花碑社区, then `below` (each under the one before), created
/// by `phone` into `ops`.
fn areas_down(
    phone: &mut Phone,
    ops: &mut Vec<Op>,
    below: &[(AreaLevel, &str, &str)],
) -> Vec<Area> {
    let mut areas: Vec<Area> = Vec::new();
    let top = [
        (AreaLevel::District, "330106", "西湖区"),
        (AreaLevel::Subdistrict, "330106001", "北山街道"),
        (AreaLevel::GridLayer, "330106001L01", "第一网层"),
        (AreaLevel::Community, "330106001001", "梅花碑社区"),
    ];
    for (level, code, name) in top.iter().chain(below) {
        let area = Area {
            id: Uuid::now_v7(),
            level: *level,
            code: code.to_string(),
            name: name.to_string(),
            parent_id: areas.last().map(|a| a.id),
            response_policies: vec![],
        };
        ops.push(phone.create(&area));
        areas.push(area);
    }
    areas
}

pub fn city(phone: &mut Phone, grids: usize, per_grid: usize) -> City {
    let mut ops = Vec::new();
    let above = areas_down(phone, &mut ops, &[]);
    let community = above.last().unwrap().id;
    let mut out = City {
        subdistrict: above[1].id,
        grids: vec![],
        households: vec![],
        records: vec![],
        ops: vec![],
    };
    for g in 0..grids {
        let grid = Area {
            id: Uuid::now_v7(),
            level: AreaLevel::Grid,
            code: format!("330106001001{:03}", g + 1),
            name: format!("梅花碑第{}网格", g + 1),
            parent_id: Some(community),
            response_policies: vec![],
        };
        ops.push(phone.create(&grid));
        let mut records = vec![grid.id];
        let mut households = vec![];
        for i in 0..per_grid {
            let building = Building {
                id: Uuid::now_v7(),
                address_code: format!("330106001001{:03}{:04}", g + 1, i + 1),
                address: format!("梅花碑社区{}-{}幢", g + 1, i + 1),
                kind: BuildingKind::Residential,
                grid_id: grid.id,
                micro_grid_id: None,
                head_user_id: None,
                station_id: None,
                position: None,
            };
            let household = Household {
                id: Uuid::now_v7(),
                building_id: building.id,
                unit: format!("{}-301", i + 1),
                kind: HouseholdKind::OwnerOccupied,
                phone: None,
                archived: false,
            };
            let resident = Resident {
                id: Uuid::now_v7(),
                household_id: household.id,
                name: format!("住户{g}-{i}"),
                id_number: Some(id_number("19800101", (g * per_grid + i) as u16 % 999 + 1)),
                phone: None,
                key_groups: vec![],
                last_visit_ms: None,
                archived: false,
            };
            ops.push(phone.create(&building));
            ops.push(phone.create(&household));
            ops.push(phone.create(&resident));
            records.extend([building.id, household.id, resident.id]);
            households.push(household.id);
        }
        out.grids.push(grid.id);
        out.households.push(households);
        out.records.push(records);
    }
    out.ops = ops;
    out
}

/// What a server in the field holds when it is upgraded: a town one phone pushed (a household
/// edited since), and a gridworker of its grid with an enrolled phone. Stored once on a current
/// database; the migration tests copy it into older ones and check an upgraded server serves it
/// exactly as the original does.
pub struct FieldData {
    pub town: Town,
    pub phone: Phone,
    pub gridworker: User,
    pub device: DeviceId,
    pub token: String,
    /// The last sequence number handed out.
    pub last_seq: u64,
}

impl FieldData {
    pub async fn store<S: Storage>(s: &S) -> FieldData {
        let mut phone = Phone::offline();
        let town = town(&mut phone, 3);
        s.push(phone.ctx(), town.ops.clone()).await.unwrap();
        let edit = phone.set(
            EntityKind::Household,
            town.households[1].id,
            serde_json::json!({ "unit": "2-502" }),
        );
        let last_seq = accepted(&s.push(phone.ctx(), vec![edit]).await.unwrap()[0]);
        let grid = town.areas.last().unwrap().id;
        let gridworker = s
            .create_user("王芳".into(), Role::Gridworker, vec![grid])
            .await
            .unwrap();
        let now = clock::now_ms();
        let code = s.create_enrollment_code(gridworker.id, now).await.unwrap();
        let device = Uuid::now_v7();
        let token = s
            .enroll(code, device, "王芳的手机".into(), now)
            .await
            .unwrap()
            .token;
        FieldData {
            town,
            phone,
            gridworker,
            device,
            token,
            last_seq,
        }
    }

    /// `upgraded` (a copy of `original`'s data, migrated) answers the admin's and the
    /// gridworker's pulls and snapshots as `original` does, knows the phone's token, and numbers
    /// new operations after every number handed out before.
    pub async fn assert_served_alike<S: Storage>(&mut self, upgraded: &S, original: &S) {
        let all = upgraded
            .pull(0, 1000, ScopeFilter::Everything)
            .await
            .unwrap();
        let before = original
            .pull(0, 1000, ScopeFilter::Everything)
            .await
            .unwrap();
        assert_eq!(all, before, "the admin's pull");
        assert_eq!(all.ops.len(), self.town.ops.len() + 1, "the whole log");
        assert_eq!(all.next, self.last_seq);

        let view = upgraded.scope_view(&self.gridworker).await.unwrap();
        assert_eq!(view, original.scope_view(&self.gridworker).await.unwrap());
        let grid = ScopeFilter::for_view(view);
        let scoped = upgraded.pull(0, 1000, grid.clone()).await.unwrap();
        let before = original.pull(0, 1000, grid.clone()).await.unwrap();
        assert_eq!(scoped, before, "the gridworker's pull");
        let household = self.town.households[1].id;
        assert!(
            scoped.ops.iter().any(|o| o.op.entity_id == household),
            "the gridworker still sees their grid"
        );
        let page = upgraded.snapshot_page(None, 1000, grid.clone()).await;
        let before = original.snapshot_page(None, 1000, grid).await;
        let page = page.unwrap();
        assert_eq!(page, before.unwrap(), "the gridworker's snapshot");
        assert!(page.records.iter().any(|r| r.id == household));

        let authed = upgraded
            .authenticate(self.token.clone())
            .await
            .unwrap()
            .expect("the phone's token still works");
        assert_eq!(
            (authed.device, authed.user),
            (self.device, self.gridworker.clone())
        );
        assert_eq!(
            upgraded.list_devices().await.unwrap(),
            original.list_devices().await.unwrap()
        );

        let edit = self.phone.set(
            EntityKind::Household,
            household,
            serde_json::json!({ "unit": "2-503" }),
        );
        let seq = accepted(&upgraded.push(self.phone.ctx(), vec![edit]).await.unwrap()[0]);
        assert!(
            seq > self.last_seq,
            "no sequence number is handed out twice"
        );
    }
}

/// The outcome's sequence number when accepted.
pub fn accepted(result: &PushResult) -> u64 {
    match result.outcome {
        PushOutcome::Accepted { seq } => seq,
        ref other => panic!("expected accepted, got {other:?}"),
    }
}

/// The rejection code and message.
pub fn rejected(result: &PushResult) -> (RejectCode, &str) {
    match &result.outcome {
        PushOutcome::Rejected { code, message } => (*code, message.as_str()),
        other => panic!("expected a rejection, got {other:?}"),
    }
}

/// Runs HTTP tests on both backends: for each `async fn check<S: Backend>()` named, one
/// `#[tokio::test]` on SQLite (`sqlite_backend::check`) and one on PostgreSQL
/// (`postgres_backend::check`, on a scratch database of its own), as `conformance_for!` does for
/// the storage checks.
macro_rules! on_both_backends {
    ($($check:ident),* $(,)?) => {
        mod sqlite_backend {
            $(
                #[tokio::test]
                async fn $check() {
                    super::$check::<gridwork_server::storage::SqliteStorage>().await;
                }
            )*
        }
        mod postgres_backend {
            $(
                #[tokio::test]
                async fn $check() {
                    super::$check::<gridwork_server::storage::PgStorage>().await;
                }
            )*
        }
    };
}
pub(crate) use on_both_backends;
