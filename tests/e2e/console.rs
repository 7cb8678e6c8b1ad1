//! The web console in a real headless browser (Debian's `chromium` driven through
//! `chromedriver` with fantoccini; `scripts/test-browser.sh` installs both and the CJK fonts).
//! A real server on loopback with the seeded subdistrict; phones are real device cores.
//!
//! One story, in order: a wrong password is refused; the dispatcher signs in; a hazard a
//! gridworker's phone pushes appears on the board with no reload; the dispatcher assigns it and
//! the gridworker's phone receives the step; the gridworker's photo of the hazard shows on the
//! case's timeline as a thumbnail that loads, linking to the whole picture; the case's building
//! has a page with its fields and a photo a phone added to it (saved to `docs/console/`), and
//! links to a room's page with the room's photo; a fire alarm appears on top and its timer runs;
//! the alarm's line in the case list runs from when it was raised too (an arrival target, not a
//! case deadline); screenshots of the board and the brief are saved to `docs/console/`; the
//! brief exports as CSV and XLSX; the list of phones shows each phone's last sync and the
//! changes it reported waiting (a phone never synced as such); a cross-site form post, a post without the CSRF token and a dispatcher of
//! another subdistrict are refused (the building's page and its photos' bytes too); a session idle past the limit is sent to sign in again.

use std::net::TcpListener as StdListener;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use gridwork_core::seed::{SeedSize, seed_subdistrict};
use gridwork_domain::ids::Id;
use gridwork_domain::model::{Area, AreaLevel, Case, CaseKind, Severity};
use gridwork_domain::sync::Role;
use gridwork_domain::workflow::{CaseAction, CaseState};
use gridwork_server::console::auth::{IDLE_MS, hash_password};
use gridwork_server::storage::{ConsoleStorage, SqliteStorage, Storage};
use uuid::Uuid;

use crate::harness::Device;

const PASSWORD: &str = "指挥中心-2026-secret";

/// A small picture and its thumbnail (PNG, made for the test).
const PHOTO: &[u8] = include_bytes!("fixtures/photo.png");
const PHOTO_THUMB: &[u8] = include_bytes!("fixtures/photo-thumb.png");

/// A photo step naming `picture` and `thumbnail`.
fn photo_step(picture: &[u8], thumbnail: &[u8]) -> CaseAction {
    use gridwork_domain::attachment::{AttachmentRef, BlobHash, BlobRef};
    let blob = |bytes: &[u8]| BlobRef {
        hash: BlobHash::of(bytes),
        size: bytes.len() as u64,
    };
    CaseAction::Photo {
        attachment: Some(Box::new(AttachmentRef {
            blob: blob(picture),
            media_type: "image/png".into(),
            thumbnail: Some(blob(thumbnail)),
            taken_at_ms: None,
            position: None,
        })),
        uri: None,
    }
}

/// Uploads `bytes` in one PATCH of the upload protocol, as a phone's upload lane does.
async fn upload(base: &str, token: &str, bytes: &[u8]) {
    let hash = gridwork_domain::attachment::BlobHash::of(bytes);
    let r = reqwest::Client::new()
        .patch(format!("{base}/v1/uploads/{hash}"))
        .bearer_auth(token)
        .header("upload-offset", 0)
        .header("upload-length", bytes.len())
        .header("content-type", "application/offset+octet-stream")
        .body(bytes.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "uploaded");
}

/// Waits until the image `css` has loaded; its natural size.
async fn wait_for_image(c: &Client, css: &str) -> (u64, u64) {
    let script = "const i = document.querySelector(arguments[0]); \
                  return i && i.complete && i.naturalWidth > 0 ? [i.naturalWidth, i.naturalHeight] : null;";
    for _ in 0..100 {
        let got = c
            .execute(script, vec![serde_json::json!(css)])
            .await
            .unwrap();
        if let Some([w, h]) = got.as_array().map(|a| a.as_slice()) {
            return (w.as_u64().unwrap(), h.as_u64().unwrap());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the image {css} never loaded");
}

/// chromedriver on a free port, stopped when dropped.
struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn driver() -> Driver {
    let port = StdListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver is not installed: run ./scripts/test-browser.sh (the README's test command does)");
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Driver {
        child,
        url: format!("http://127.0.0.1:{port}"),
    }
}

async fn browser(driver: &Driver) -> Client {
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1920,1080", "--lang=zh-CN", "--hide-scrollbars"]
        }),
    );
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    ClientBuilder::new(connector)
        .capabilities(caps)
        .connect(&driver.url)
        .await
        .expect("start headless chromium")
}

/// The text of the first element `css` finds, waiting for it up to 10 s. An element that goes
/// stale between being found and read (the page it was on navigated away) is found again.
async fn text_of(c: &Client, css: &str) -> String {
    for _ in 0..50 {
        let el = c
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no {css}: {e}"));
        match el.text().await {
            Ok(t) => return t,
            Err(e) if e.is_stale_element_reference() => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("{css}: {e}"),
        }
    }
    panic!("{css} kept going stale");
}

/// Waits (up to 15 s) until the element `css` contains `needle`.
async fn wait_for_text(c: &Client, css: &str, needle: &str) -> String {
    for _ in 0..150 {
        if let Ok(el) = c.find(Locator::Css(css)).await
            && let Ok(t) = el.text().await
            && t.contains(needle)
        {
            return t;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{css} never showed {needle:?}");
}

/// Waits, up to 10 s, until the browser has followed the sign-out's redirect to the login page.
async fn signed_out(c: &Client) {
    for _ in 0..100 {
        if c.current_url().await.unwrap().path() == "/console/login" {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("signing out did not lead to the login page");
}

async fn sign_in(c: &Client, base: &str, name: &str, password: &str) {
    c.goto(&format!("{base}/console/login")).await.unwrap();
    c.find(Locator::Id("name"))
        .await
        .unwrap()
        .send_keys(name)
        .await
        .unwrap();
    c.find(Locator::Id("password"))
        .await
        .unwrap()
        .send_keys(password)
        .await
        .unwrap();
    c.find(Locator::Id("login"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

async fn console_user(storage: &SqliteStorage, name: &str, scope: Vec<Id>) -> Id {
    let user = storage
        .create_user(name.into(), Role::Dispatcher, scope)
        .await
        .unwrap();
    let hash = hash_password(PASSWORD).unwrap();
    storage
        .set_console_password(user.id, hash, gridwork_server::clock::now_ms())
        .await
        .unwrap();
    user.id
}

fn docs_console() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/console")
}

/// Signs in over plain HTTP (no browser) and returns the session cookie.
async fn http_cookie(base: &str, name: &str) -> String {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = http
        .post(format!("{base}/console/login"))
        .form(&[("name", name), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303, "sign-in answers a redirect to the board");
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
    cookie.split(';').next().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_console_in_a_real_browser() {
    // The server, on a clock the test can move forward (for the idle expiry).
    let dir = tempfile::tempdir().unwrap();
    let storage = Arc::new(SqliteStorage::open(dir.path().join("server.db")).unwrap());
    let ahead = Arc::new(AtomicU64::new(0));
    let a = ahead.clone();
    let clock: gridwork_server::clock::ServerClock =
        Arc::new(move || gridwork_server::clock::now_ms() + a.load(Ordering::SeqCst));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = gridwork_server::serve_with_clock(listener, storage.clone(), clock)
        .await
        .unwrap();
    let base = server.url();

    // The seeded subdistrict and a second one next to it.
    let admin_code = {
        let u = storage
            .create_user("管理员".into(), Role::Admin, vec![])
            .await
            .unwrap();
        storage
            .create_enrollment_code(u.id, gridwork_server::clock::now_ms())
            .await
            .unwrap()
    };
    let admin = Device::enrolled_at(&base, &admin_code, "管理员", 0).await;
    admin.sync().await;
    let seeded = seed_subdistrict(&admin.gw, 23, SeedSize::TINY, |_, _| {}).unwrap();
    let sub = seeded.subdistrict.as_ref().unwrap();
    let other = admin
        .gw
        .create(Area {
            id: Uuid::nil(),
            level: AreaLevel::Subdistrict,
            code: "330105099".into(),
            name: "另一街道".into(),
            parent_id: sub.parent_id,
            response_policies: vec![],
        })
        .unwrap();
    admin.sync().await;
    let grid = seeded.grids[0].clone();
    let building = seeded
        .buildings
        .iter()
        .find(|b| b.grid_id == grid.id && b.position.is_some())
        .unwrap()
        .clone();

    let _zhao = console_user(&storage, "赵敏", vec![sub.id]).await;
    let _qian = console_user(&storage, "钱力", vec![other.id]).await;
    let wang_code = {
        let u = storage
            .create_user("王芳".into(), Role::Gridworker, vec![grid.id])
            .await
            .unwrap();
        storage
            .create_enrollment_code(u.id, gridwork_server::clock::now_ms())
            .await
            .unwrap()
    };
    let wang = Device::enrolled_at(&base, &wang_code, "王芳", 0).await;
    wang.sync().await;

    let driver = driver().await;
    let c = browser(&driver).await;
    c.set_window_size(1920, 1080).await.unwrap();

    // A wrong password is refused, and says so.
    sign_in(&c, &base, "赵敏", "not-the-password").await;
    assert_eq!(text_of(&c, "#login-error").await, "用户名或密码错误");
    assert!(
        c.current_url()
            .await
            .unwrap()
            .path()
            .ends_with("/console/login")
    );

    // The dispatcher signs in and sees the board.
    sign_in(&c, &base, "赵敏", PASSWORD).await;
    assert!(text_of(&c, "#who").await.contains("赵敏"));
    assert_eq!(c.current_url().await.unwrap().path(), "/console/board");
    wait_for_text(&c, "#live-status", "已连接").await;

    // A hazard the gridworker's phone pushes appears without a reload: a mark set on the
    // page survives.
    c.execute("window.__noReload = 'still here'; return 1;", vec![])
        .await
        .unwrap();
    let hazard = wang
        .gw
        .open_case(Case {
            id: Uuid::nil(),
            kind: CaseKind::Hazard,
            title: "电动车楼道充电".into(),
            category: "fire_hazard".into(),
            severity: Severity::High,
            area_id: grid.id,
            building_id: Some(building.id),
            household_id: None,
            position: building.position,
            opened_at_ms: 0,
            patrol_id: None,
        })
        .unwrap();
    wang.sync().await;
    wait_for_text(&c, "#cases", "电动车楼道充电").await;
    let mark = c
        .execute("return window.__noReload || null;", vec![])
        .await
        .unwrap();
    assert_eq!(
        mark,
        serde_json::json!("still here"),
        "the page was not reloaded"
    );

    // The dispatcher opens it and assigns it to 王芳.
    c.find(Locator::LinkText("电动车楼道充电"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for_text(&c, "h1", "电动车楼道充电").await;
    c.find(Locator::Css("#assign-assignee"))
        .await
        .unwrap()
        .select_by_label("王芳（网格员）")
        .await
        .unwrap();
    c.find(Locator::Css("#step-assign button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    // The answer is the case's page again: wait for it (the old page's state may be read
    // while the browser is still on its way).
    assert_eq!(wait_for_text(&c, "#case-state", "已交办").await, "已交办");
    assert_eq!(text_of(&c, "#case-assignee").await, "王芳");
    assert!(text_of(&c, "#timeline").await.contains("赵敏"));

    // The gridworker's phone receives the step.
    wang.sync().await;
    let seen = wang.gw.case(hazard.case.id).unwrap();
    assert_eq!(seen.fold.state, CaseState::Assigned);
    assert_eq!(seen.fold.assignee, wang.gw.user_id().unwrap());

    // The gridworker photographs the hazard: the step syncs, the bytes go up the upload lane,
    // and the case's timeline shows the thumbnail (loaded through /console/blobs/{hash}) with
    // a link to the whole picture.
    let (picture, thumbnail) = (PHOTO, PHOTO_THUMB);
    wang.gw
        .record_case_event(hazard.case.id, photo_step(picture, thumbnail))
        .unwrap();
    wang.sync().await;
    for bytes in [thumbnail, picture] {
        let token = wang.gw.token().unwrap().expect("enrolled");
        upload(&base, &token, bytes).await;
    }
    c.refresh().await.unwrap();
    wait_for_text(&c, "h1", "电动车楼道充电").await;
    let loaded = wait_for_image(&c, "#timeline img.thumb").await;
    assert_eq!(loaded, (48, 32), "the thumbnail's own size: it loaded");
    let link = c
        .find(Locator::Css("#timeline a.photo"))
        .await
        .unwrap()
        .attr("href")
        .await
        .unwrap()
        .unwrap();
    let full = gridwork_domain::attachment::BlobHash::of(picture).to_hex();
    assert!(link.contains(&format!("/console/blobs/{full}")), "{link}");
    // The link opens the whole picture, as an image.
    let opened = c
        .execute(
            "return fetch(arguments[0]).then(r => r.blob()).then(b => [b.type, b.size]);",
            vec![serde_json::json!(link)],
        )
        .await
        .unwrap();
    assert_eq!(opened, serde_json::json!(["image/png", picture.len()]));

    // A building's page and a room's (ADR 0043): a gridworker's phone that keeps photos adds
    // one to the building and one to a room it registers; the case's place links to the
    // building, whose page shows its fields and the photo (the thumbnail loaded, linked to the
    // whole picture), and links to the room's page, which shows the room's.
    let camera_blobs = tempfile::tempdir().unwrap();
    let camera = {
        let u = storage
            .create_user("孙丽".into(), Role::Gridworker, vec![grid.id])
            .await
            .unwrap();
        let code = storage
            .create_enrollment_code(u.id, gridwork_server::clock::now_ms())
            .await
            .unwrap();
        let gw = gridwork_core::Gridwork::open_in_memory(gridwork_core::OpenOptions {
            blob_dir: Some(camera_blobs.path().to_path_buf()),
            ..gridwork_core::OpenOptions::default()
        })
        .unwrap();
        let net = gridwork_core::HttpTransport::new(&base, None).unwrap();
        gw.enroll(&net, &code, "孙丽的手机").await.unwrap();
        gw.sync_now(&net).await.unwrap();
        (gw, net)
    };
    let room = camera
        .0
        .create(gridwork_domain::model::Household {
            id: Uuid::nil(),
            building_id: building.id,
            unit: "9-901".into(),
            kind: gridwork_domain::model::HouseholdKind::Rental,
            phone: None,
            archived: false,
        })
        .unwrap()
        .id;
    use gridwork_domain::op::EntityKind;
    let exit = camera
        .0
        .add_record_photo(EntityKind::Building, building.id, PHOTO)
        .unwrap();
    let room_photo = camera
        .0
        .add_record_photo(EntityKind::Household, room, PHOTO_THUMB)
        .unwrap();
    camera.0.sync_now(&camera.1).await.unwrap();
    assert_eq!(camera.0.upload_pending(&camera.1).await.unwrap().queued, 0);
    c.find(Locator::Css("#case-building"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for_text(&c, "h1", &building.address).await;
    assert_eq!(
        c.current_url().await.unwrap().path(),
        format!("/console/buildings/{}", building.id)
    );
    assert_eq!(text_of(&c, "#building-address").await, building.address);
    assert!(
        text_of(&c, "#building-cases")
            .await
            .contains("电动车楼道充电")
    );
    let thumb = wait_for_image(&c, "#photos img.thumb").await;
    let edge = gridwork_core::attachments::THUMBNAIL_EDGE as u64;
    assert!(
        thumb.0 > 0 && thumb.0 <= edge && thumb.1 <= edge,
        "the thumbnail loaded: {thumb:?}"
    );
    let link = c
        .find(Locator::Css("#photos a.photo"))
        .await
        .unwrap()
        .attr("href")
        .await
        .unwrap()
        .unwrap();
    assert!(
        link.contains(&format!("/console/blobs/{}", exit.blob.hash)),
        "{link}"
    );
    let opened = c
        .execute(
            "return fetch(arguments[0]).then(r => r.blob()).then(b => [b.type, b.size]);",
            vec![serde_json::json!(link)],
        )
        .await
        .unwrap();
    assert_eq!(opened, serde_json::json!(["image/png", exit.blob.size]));
    std::fs::create_dir_all(docs_console()).unwrap();
    std::fs::write(
        docs_console().join("building.png"),
        c.screenshot().await.unwrap(),
    )
    .unwrap();
    let building_page = c.current_url().await.unwrap().to_string();
    c.find(Locator::LinkText("9-901"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    assert_eq!(text_of(&c, "#household-unit").await, "9-901");
    assert_eq!(text_of(&c, "#household-building").await, building.address);
    wait_for_image(&c, "#photos img.thumb").await;
    let room_link = c
        .find(Locator::Css("#photos a.photo"))
        .await
        .unwrap()
        .attr("href")
        .await
        .unwrap()
        .unwrap();
    assert!(
        room_link.contains(&format!("/console/blobs/{}", room_photo.blob.hash)),
        "{room_link}"
    );
    // The map lists the building with a link to its page.
    c.goto(&format!("{base}/console/map")).await.unwrap();
    c.find(Locator::Css(&format!(
        "#buildings a[href='/console/buildings/{}']",
        building.id
    )))
    .await
    .unwrap();

    // A fire alarm: on top of the board, with its timer running.
    c.goto(&format!("{base}/console/board")).await.unwrap();
    wait_for_text(&c, "#live-status", "已连接").await;
    let alarm = wang
        .gw
        .raise_alarm(building.id, "三楼闻到烟味", "fire", None)
        .unwrap();
    wang.sync().await;
    let first = wait_for_text(&c, "#alarms li:first-child", "三楼闻到烟味").await;
    assert!(first.contains("到场目标"), "{first}");
    let line = format!("#cases tr[data-case='{}']", alarm.case.id);
    let t0 = text_of(&c, "#alarms li:first-child .timer").await;
    let l0 = text_of(&c, &format!("{line} td.due")).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let t1 = text_of(&c, "#alarms li:first-child .timer").await;
    let l1 = text_of(&c, &format!("{line} td.due")).await;
    assert!(
        t0.starts_with("已过 ") && t1.starts_with("已过 "),
        "{t0} / {t1}"
    );
    assert_ne!(t0, t1, "the timer runs");
    // The alarm's line in the case list: the time since raised against the arrival target,
    // running too; never a case deadline's "剩 0分".
    assert!(
        l0.starts_with("已过 ") && l1.contains("目标") && !l1.contains('剩'),
        "{l0} / {l1}"
    );
    assert_ne!(l0, l1, "the line's timer runs");
    // The alarms section comes before the case list on the page.
    let order = c
        .execute(
            "return document.querySelector('#alarms').compareDocumentPosition(document.querySelector('#cases')) & Node.DOCUMENT_POSITION_FOLLOWING;",
            vec![],
        )
        .await
        .unwrap();
    assert_ne!(order, serde_json::json!(0));
    std::fs::create_dir_all(docs_console()).unwrap();
    std::fs::write(
        docs_console().join("board.png"),
        c.screenshot().await.unwrap(),
    )
    .unwrap();

    // The brief of this week, printable, exported.
    let today = chrono::Utc::now().date_naive();
    c.goto(&format!(
        "{base}/console/brief?area={}&week={today}",
        sub.code
    ))
    .await
    .unwrap();
    let title = text_of(&c, "#brief-title").await;
    assert!(
        title.contains(&sub.name) && title.contains("工作简报"),
        "{title}"
    );
    let ranking = text_of(&c, "#ranking").await;
    assert!(ranking.contains(&grid.name), "{ranking}");
    std::fs::write(
        docs_console().join("brief.png"),
        c.screenshot().await.unwrap(),
    )
    .unwrap();
    let cookie = http_cookie(&base, "赵敏").await;
    let http = reqwest::Client::new();
    let csv = http
        .get(format!(
            "{base}/console/brief.csv?area={}&week={today}",
            sub.code
        ))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(csv.status(), 200);
    let csv = csv.text().await.unwrap();
    assert!(csv.contains("网格") && csv.contains(&grid.name), "{csv}");
    let xlsx = http
        .get(format!(
            "{base}/console/brief.xlsx?area={}&week={today}",
            sub.code
        ))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(xlsx.status(), 200);
    let bytes = xlsx.bytes().await.unwrap();
    assert_eq!(&bytes[..2], b"PK", "an XLSX is a zip");

    // The list of phones: 王芳's phone reported one change still waiting (a case opened since
    // its last push, reported by a pull); 李强's phone enrolled and never synced.
    let li_code = {
        let u = storage
            .create_user("李强".into(), Role::Gridworker, vec![grid.id])
            .await
            .unwrap();
        storage
            .create_enrollment_code(u.id, gridwork_server::clock::now_ms())
            .await
            .unwrap()
    };
    let _li = Device::enrolled_at(&base, &li_code, "李强", 0).await;
    wang.gw
        .open_case(Case {
            id: Uuid::nil(),
            kind: CaseKind::Hazard,
            title: "消防通道堆物".into(),
            category: "fire_hazard".into(),
            severity: Severity::Medium,
            area_id: grid.id,
            building_id: Some(building.id),
            household_id: None,
            position: building.position,
            opened_at_ms: 0,
            patrol_id: None,
        })
        .unwrap();
    assert_eq!(wang.gw.pending_count().unwrap(), 1);
    wang.gw.wait_for_changes(&wang.net, 0).await.unwrap();
    c.goto(&format!("{base}/console/phones")).await.unwrap();
    wait_for_text(&c, "#phones", "李强").await;
    let rows = c
        .execute(
            "return Array.from(document.querySelectorAll('#phones tbody tr')).map(tr => Array.from(tr.cells).map(td => td.textContent.trim()));",
            vec![],
        )
        .await
        .unwrap();
    let rows: Vec<Vec<String>> = serde_json::from_value(rows).unwrap();
    let row_of = |user: &str| {
        rows.iter()
            .find(|r| r[0] == user)
            .unwrap_or_else(|| panic!("{user} in {rows:?}"))
            .clone()
    };
    let wang_row = row_of("王芳");
    assert_eq!(&wang_row[5..], ["刚刚", "1"], "{wang_row:?}");
    let li_row = row_of("李强");
    assert_eq!(&li_row[5..], ["从未同步", "—"], "{li_row:?}");

    // A post without the session's CSRF token is refused and changes nothing.
    let events_before = storage
        .case_events(vec![alarm.case.id])
        .await
        .unwrap()
        .len();
    let r = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(format!("{base}/console/cases/{}/step", alarm.case.id))
        .header("cookie", &cookie)
        .form(&[("action", "note"), ("text", "无令牌"), ("csrf", "guess")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);

    // A cross-site form post (another origin's page submitting to the console with the
    // browser's cookie) is refused and changes nothing.
    let evil = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let evil_url = format!("http://{}", evil.local_addr().unwrap());
    let target = format!("{base}/console/cases/{}/step", alarm.case.id);
    let page = format!(
        "<!doctype html><form id=f method=post action='{target}'>\
         <input name=action value=note><input name=text value=evil><input name=csrf value=x>\
         </form><script>document.getElementById('f').submit()</script>"
    );
    let app = axum::Router::new().route(
        "/",
        axum::routing::get(move || {
            let page = page.clone();
            async move { axum::response::Html(page) }
        }),
    );
    tokio::spawn(async move { axum::serve(evil, app).await.unwrap() });
    c.goto(&evil_url).await.unwrap();
    let refused = text_of(&c, "body").await;
    assert!(refused.contains("拒绝"), "{refused}");
    let events_after = storage
        .case_events(vec![alarm.case.id])
        .await
        .unwrap()
        .len();
    assert_eq!(events_before, events_after, "nothing was written");
    assert!(
        !storage
            .case_events(vec![alarm.case.id])
            .await
            .unwrap()
            .iter()
            .any(|e| matches!(&e.action, CaseAction::Note { text } if text == "evil"))
    );

    // A dispatcher of another subdistrict sees neither case and cannot act on them.
    c.goto(&format!("{base}/console/board")).await.unwrap();
    c.find(Locator::Css("form.who button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    // The sign-out's answer (the one clearing the cache) must be taken in before the next page
    // is asked for: a `goto` while it is still on its way cancels it (seen under load).
    signed_out(&c).await;
    sign_in(&c, &base, "钱力", PASSWORD).await;
    assert!(text_of(&c, "#who").await.contains("钱力"));
    let board = text_of(&c, "#board").await;
    assert!(
        !board.contains("电动车楼道充电") && !board.contains("三楼闻到烟味"),
        "{board}"
    );
    c.goto(&format!("{base}/console/cases/{}", hazard.case.id))
        .await
        .unwrap();
    assert!(text_of(&c, "#message").await.contains("不在您的辖区内"));
    // Nor the building's page, nor its photo's bytes (the one 404 of a blob not there): not
    // from the server, nor from the browser's cache (signing out cleared it).
    c.goto(&building_page).await.unwrap();
    assert!(text_of(&c, "#message").await.contains("不在您的辖区内"));
    for cache in ["no-store", "default"] {
        let refused = c
            .execute(
                "return fetch(arguments[0], {cache: arguments[1]}).then(r => r.status);",
                vec![serde_json::json!(link), serde_json::json!(cache)],
            )
            .await
            .unwrap();
        assert_eq!(refused, serde_json::json!(404), "cache: {cache}");
    }
    let qian = http_cookie(&base, "钱力").await;
    for hash in [
        exit.blob.hash,
        exit.thumbnail.unwrap().hash,
        room_photo.blob.hash,
    ] {
        let r = http
            .get(format!("{base}/console/blobs/{hash}"))
            .header("cookie", &qian)
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.status(),
            404,
            "another subdistrict's dispatcher is refused {hash}"
        );
    }
    let r = http
        .get(format!("{base}/console/households/{room}"))
        .header("cookie", &qian)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    // The dispatcher of the building's subdistrict is served the same bytes.
    let r = http
        .get(format!("{base}/console/blobs/{}", exit.blob.hash))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        gridwork_domain::attachment::BlobHash::of(&r.bytes().await.unwrap()),
        exit.blob.hash
    );
    let csrf = {
        let html = http
            .get(format!("{base}/console/board"))
            .header("cookie", &qian)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let at = html.find("name=\"csrf\" value=\"").unwrap() + 19;
        html[at..at + 64].to_string()
    };
    let r = http
        .post(format!("{base}/console/cases/{}/step", hazard.case.id))
        .header("cookie", &qian)
        .form(&[("action", "close"), ("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert!(!wang.gw.case(hazard.case.id).unwrap().fold.is_closed());

    // A session idle past the limit is over: the next page is the sign-in page.
    ahead.store(IDLE_MS + 60_000, Ordering::SeqCst);
    c.goto(&format!("{base}/console/board")).await.unwrap();
    assert!(text_of(&c, "#notice").await.contains("过期"));
    assert_eq!(c.current_url().await.unwrap().path(), "/console/login");

    c.close().await.unwrap();
    server.shutdown().await.unwrap();
}
