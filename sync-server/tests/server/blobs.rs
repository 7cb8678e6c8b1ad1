//! Photo bytes over HTTP (issue 24) on both backends (`sqlite_backend::`, `postgres_backend::`):
//! the resumable upload (offsets, 409 with the server's offset, the hash check, dedup across
//! devices, the limits and the daily quota), the references a push files, and who may fetch:
//! a phone in the case's scope gets the bytes (whole or from an offset), a phone outside it and
//! a blob never referenced get the same 404, a revoked phone 401; a console user of another
//! subdistrict 404, of the right one the bytes. Then a PATCH cut off mid-body (its bytes kept),
//! an upload resumed after a restart, the orphan sweep and the migration that files old steps.

use std::time::Duration;

use gridwork_domain::attachment::{AttachmentRef, BlobHash, BlobRef};
use gridwork_domain::ids::Id;
use gridwork_domain::model::{Area, AreaLevel};
use gridwork_domain::sync::Role;
use gridwork_domain::workflow::CaseAction;
use gridwork_server::ServerOptions;
use gridwork_server::blobs::gc::{self, SweepPolicy};
use gridwork_server::blobs::{BlobLimits, BlobStore};
use gridwork_server::console::auth;
use gridwork_server::storage::BlobStorage;
use reqwest::StatusCode;
use uuid::Uuid;

use crate::common::{Backend, Phone, TestServer, accepted, on_both_backends, town};

const PASSWORD: &str = "long enough 密码";

/// Made-up picture bytes (not compressible to nothing, so ranges are checked for real).
pub fn picture(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| ((i as u32).wrapping_mul(2_654_435_761) >> 13) as u8 ^ seed)
        .collect()
}

async fn head<S: Backend>(
    server: &TestServer<S>,
    phone: &Phone,
    hash: &BlobHash,
) -> reqwest::Response {
    server
        .http
        .head(server.url(&format!("/v1/uploads/{hash}")))
        .bearer_auth(&phone.token)
        .send()
        .await
        .unwrap()
}

async fn patch<S: Backend>(
    server: &TestServer<S>,
    phone: &Phone,
    hash: &BlobHash,
    offset: u64,
    length: u64,
    body: &[u8],
) -> reqwest::Response {
    server
        .http
        .patch(server.url(&format!("/v1/uploads/{hash}")))
        .bearer_auth(&phone.token)
        .header("upload-offset", offset)
        .header("upload-length", length)
        .header("content-type", "application/offset+octet-stream")
        .body(body.to_vec())
        .send()
        .await
        .unwrap()
}

fn header(r: &reqwest::Response, name: &str) -> Option<String> {
    r.headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_string())
}

async fn error_code(r: reqwest::Response) -> String {
    let body: serde_json::Value = r.json().await.unwrap();
    body["error"].as_str().unwrap().to_string()
}

/// Uploads `bytes` whole, in pieces of `piece` bytes; returns the hash.
pub async fn upload<S: Backend>(
    server: &TestServer<S>,
    phone: &Phone,
    bytes: &[u8],
    piece: usize,
) -> BlobHash {
    let hash = BlobHash::of(bytes);
    let n = bytes.len() as u64;
    let mut at = 0;
    loop {
        let end = (at + piece).min(bytes.len());
        let r = patch(server, phone, &hash, at as u64, n, &bytes[at..end]).await;
        if end == bytes.len() {
            assert_eq!(r.status(), StatusCode::CREATED);
            assert_eq!(header(&r, "upload-complete").as_deref(), Some("1"));
            return hash;
        }
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
        assert_eq!(header(&r, "upload-offset"), Some(end.to_string()));
        at = end;
    }
}

/// A photo step naming `picture` and `thumbnail`.
pub fn photo(picture: &[u8], thumbnail: &[u8]) -> CaseAction {
    CaseAction::Photo {
        attachment: Some(Box::new(AttachmentRef {
            blob: BlobRef {
                hash: BlobHash::of(picture),
                size: picture.len() as u64,
            },
            media_type: "image/jpeg".into(),
            thumbnail: Some(BlobRef {
                hash: BlobHash::of(thumbnail),
                size: thumbnail.len() as u64,
            }),
            taken_at_ms: None,
            position: None,
        })),
        uri: None,
    }
}

/// A phone enrolled for a new gridworker whose scope is `scope`.
async fn phone_in<S: Backend>(server: &TestServer<S>, name: &str, scope: Id) -> Phone {
    let user = server
        .storage
        .create_user(name.into(), Role::Gridworker, vec![scope])
        .await
        .unwrap();
    enroll(server, user.id, name).await
}

async fn enroll<S: Backend>(server: &TestServer<S>, user: Id, name: &str) -> Phone {
    let code = server.code(user).await;
    let device = Uuid::now_v7();
    let answer: gridwork_domain::sync::EnrollResponse = server
        .post(
            "/v1/enroll",
            None,
            &gridwork_domain::sync::EnrollRequest {
                code,
                device_id: device,
                device_name: format!("{name}的手机"),
            },
        )
        .await
        .json()
        .await
        .unwrap();
    Phone::new(device, answer.token)
}

async fn get_blob<S: Backend>(
    server: &TestServer<S>,
    phone: &Phone,
    hash: &BlobHash,
) -> reqwest::Response {
    server
        .http
        .get(server.url(&format!("/v1/blobs/{hash}")))
        .bearer_auth(&phone.token)
        .send()
        .await
        .unwrap()
}

/// A dispatcher with a console password, signed in: the session cookie.
async fn console_user<S: Backend>(server: &TestServer<S>, name: &str, scope: Id) -> String {
    let user = server
        .storage
        .create_user(name.into(), Role::Dispatcher, vec![scope])
        .await
        .unwrap();
    server
        .storage
        .set_console_password(user.id, auth::hash_password(PASSWORD).unwrap(), 0)
        .await
        .unwrap();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = http
        .post(server.url("/console/login"))
        .form(&[("name", name), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303, "{name} signs in");
    let set = r.headers()["set-cookie"].to_str().unwrap().to_string();
    set.split(';').next().unwrap().to_string()
}

async fn uploads_resume_and_photos_reach_only_who_may_see_them<S: Backend>() {
    let server = TestServer::<S>::fresh().await;
    let mut admin = server.phone("管理员", Role::Admin).await;
    let t = town(&mut admin, 2);
    // A second grid in the same community, and a second subdistrict in the district.
    let community = t.areas[3].id;
    let other_grid = Area {
        id: Uuid::now_v7(),
        level: AreaLevel::Grid,
        code: "330106001001002".into(),
        name: "梅花碑第二网格".into(),
        parent_id: Some(community),
        response_policies: vec![],
    };
    let other_sub = Area {
        id: Uuid::now_v7(),
        level: AreaLevel::Subdistrict,
        code: "330106002".into(),
        name: "西溪街道".into(),
        parent_id: Some(t.areas[0].id),
        response_policies: vec![],
    };
    let mut ops = t.ops.clone();
    ops.push(admin.create(&other_grid));
    ops.push(admin.create(&other_sub));
    let pushed = server.push(&admin, &ops).await;
    pushed.results.iter().for_each(|r| {
        accepted(r);
    });
    let grid = t.areas.last().unwrap().id;
    let sub = t.areas[1].id;
    let wang = phone_in(&server, "王芳", grid).await;
    let li = phone_in(&server, "李强", other_grid.id).await;

    // An upload in pieces, resumed from where the server says.
    let pic = picture(300_000, 1);
    let thumb = picture(9_000, 2);
    let hash = BlobHash::of(&pic);
    let n = pic.len() as u64;
    let r = head(&server, &wang, &hash).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(header(&r, "upload-offset").as_deref(), Some("0"));
    assert_eq!(header(&r, "cache-control").as_deref(), Some("no-store"));
    let r = patch(&server, &wang, &hash, 0, n, &pic[..120_000]).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(header(&r, "upload-offset").as_deref(), Some("120000"));
    // The same piece again (its answer was lost): 409 with the server's offset.
    let r = patch(&server, &wang, &hash, 0, n, &pic[..120_000]).await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert_eq!(header(&r, "upload-offset").as_deref(), Some("120000"));
    assert_eq!(error_code(r).await, "offset_mismatch");
    let r = head(&server, &wang, &hash).await;
    assert_eq!(header(&r, "upload-offset").as_deref(), Some("120000"));
    assert_eq!(header(&r, "upload-length").as_deref(), Some("300000"));
    // Another phone's upload of the same blob is its own.
    let r = head(&server, &li, &hash).await;
    assert_eq!(header(&r, "upload-offset").as_deref(), Some("0"));
    let r = patch(&server, &wang, &hash, 120_000, n, &pic[120_000..]).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(header(&r, "upload-complete").as_deref(), Some("1"));
    // Stored once: anyone asking now is told there is nothing to send.
    let r = head(&server, &li, &hash).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(header(&r, "upload-complete").as_deref(), Some("1"));
    let thumb_hash = upload(&server, &wang, &thumb, 4_000).await;

    // Bytes that do not hash to their name are refused and discarded.
    let liar = BlobHash::of(b"not these bytes");
    let r = patch(&server, &wang, &liar, 0, 5, b"hello").await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_code(r).await, "hash_mismatch");
    let r = head(&server, &wang, &liar).await;
    assert_eq!(header(&r, "upload-offset").as_deref(), Some("0"));
    assert!(header(&r, "upload-complete").is_none());
    // A blob over the limit is refused before any byte is read.
    let big = BlobHash::of(b"big");
    let r = patch(&server, &wang, &big, 0, 32 * 1024 * 1024 + 1, b"x").await;
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(error_code(r).await, "blob_too_large");
    // Not a hash: refused.
    let r = server
        .http
        .head(server.url("/v1/uploads/..%2F..%2Fetc"))
        .bearer_auth(&wang.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);

    // Uploaded but referenced by no step yet: nobody may fetch it.
    let r = get_blob(&server, &wang, &hash).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_code(r).await, "blob_not_found");

    // The photo step files both blobs under the case.
    let step = admin.event(t.hazard.id, photo(&pic, &thumb));
    let pushed = server.push(&admin, &[step]).await;
    accepted(&pushed.results[0]);
    assert_eq!(
        server.storage.blob_cases(hash).await.unwrap(),
        vec![t.hazard.id]
    );
    assert_eq!(
        server.storage.blob_cases(thumb_hash).await.unwrap(),
        vec![t.hazard.id]
    );

    // In scope: the bytes, whole and from an offset.
    let r = get_blob(&server, &wang, &hash).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        header(&r, "content-type").as_deref(),
        Some("application/octet-stream")
    );
    assert_eq!(header(&r, "etag"), Some(format!("\"{hash}\"")));
    assert_eq!(
        header(&r, "cache-control").as_deref(),
        Some("private, max-age=31536000, immutable")
    );
    assert_eq!(header(&r, "content-length").as_deref(), Some("300000"));
    assert_eq!(r.bytes().await.unwrap().as_ref(), &pic[..]);
    let r = server
        .http
        .get(server.url(&format!("/v1/blobs/{hash}")))
        .bearer_auth(&wang.token)
        .header("range", "bytes=250000-")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        header(&r, "content-range").as_deref(),
        Some("bytes 250000-299999/300000")
    );
    assert_eq!(r.bytes().await.unwrap().as_ref(), &pic[250_000..]);
    let r = get_blob(&server, &wang, &thumb_hash).await;
    assert_eq!(r.bytes().await.unwrap().as_ref(), &thumb[..]);

    // Out of scope: the same 404 as a blob that does not exist.
    let r = get_blob(&server, &li, &hash).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_code(r).await, "blob_not_found");
    let r = get_blob(&server, &li, &BlobHash::of(b"never uploaded")).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_code(r).await, "blob_not_found");

    // Revoked: 401, like every other route.
    server
        .storage
        .revoke_device(wang.device, gridwork_server::clock::now_ms())
        .await
        .unwrap();
    let r = get_blob(&server, &wang, &hash).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = head(&server, &wang, &hash).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

    // The console: the right subdistrict sees it, another does not.
    let ours = console_user(&server, "赵敏", sub).await;
    let theirs = console_user(&server, "钱进", other_sub.id).await;
    let console_get = |cookie: String| {
        let request = server
            .http
            .get(server.url(&format!("/console/blobs/{hash}")))
            .header("cookie", cookie);
        async move { request.send().await.unwrap() }
    };
    let r = console_get(ours.clone()).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.bytes().await.unwrap().as_ref(), &pic[..]);
    // The case's timeline shows the thumbnail, linking to the picture, served as an image.
    let html = server
        .http
        .get(server.url(&format!("/console/cases/{}", t.hazard.id)))
        .header("cookie", &ours)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let thumb_src = format!("/console/blobs/{thumb_hash}?type=image/jpeg");
    assert!(html.contains(&format!("src=\"{thumb_src}\"")), "{html}");
    assert!(html.contains(&format!("href=\"/console/blobs/{hash}?type=image/jpeg\"")));
    let r = server
        .http
        .get(server.url(&thumb_src))
        .header("cookie", &ours)
        .send()
        .await
        .unwrap();
    assert_eq!(header(&r, "content-type").as_deref(), Some("image/jpeg"));
    assert_eq!(r.bytes().await.unwrap().as_ref(), &thumb[..]);
    // Only picture types: anything else stays application/octet-stream.
    let r = server
        .http
        .get(server.url(&format!("/console/blobs/{hash}?type=image/svg%2Bxml")))
        .header("cookie", &ours)
        .send()
        .await
        .unwrap();
    assert_eq!(
        header(&r, "content-type").as_deref(),
        Some("application/octet-stream")
    );
    let r = console_get(theirs).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    // No session: to the sign-in page, no bytes.
    let r = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(server.url(&format!("/console/blobs/{hash}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
}

async fn the_daily_quota_refuses_with_retry_after<S: Backend>() {
    let server = TestServer::<S>::fresh_with(ServerOptions {
        blob_limits: BlobLimits {
            max_blob_bytes: 1024 * 1024,
            device_daily_bytes: 100_000,
        },
        ..ServerOptions::default()
    })
    .await;
    let phone = server.phone("王芳", Role::Gridworker).await;
    let first = picture(80_000, 3);
    upload(&server, &phone, &first, 50_000).await;
    let second = picture(80_000, 4);
    let hash = BlobHash::of(&second);
    // 80,000 + 30,000 > 100,000: refused, with when to try again.
    let r = patch(&server, &phone, &hash, 0, 80_000, &second[..30_000]).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = header(&r, "retry-after").unwrap().parse().unwrap();
    assert!((1..=86_400).contains(&wait), "{wait}");
    assert_eq!(error_code(r).await, "upload_quota");
    // The same bytes sent chunked (no Content-Length to judge by): refused as they pass the
    // quota, nothing counted or kept.
    let status = {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let addr = server.handle.as_ref().unwrap().local_addr();
        let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let head_text = format!(
            "PATCH /v1/uploads/{hash} HTTP/1.1\r\nhost: {addr}\r\nauthorization: Bearer {}\r\n\
             upload-offset: 0\r\nupload-length: 80000\r\n\
             content-type: application/offset+octet-stream\r\ntransfer-encoding: chunked\r\n\
             connection: close\r\n\r\n",
            phone.token
        );
        tcp.write_all(head_text.as_bytes()).await.unwrap();
        for chunk in second[..30_000].chunks(5_000) {
            let mut framed = format!("{:x}\r\n", chunk.len()).into_bytes();
            framed.extend_from_slice(chunk);
            framed.extend_from_slice(b"\r\n");
            if tcp.write_all(&framed).await.is_err() {
                break; // the server answered and closed before the rest
            }
        }
        let _ = tcp.write_all(b"0\r\n\r\n").await;
        let mut answer = Vec::new();
        let _ = tcp.read_to_end(&mut answer).await;
        let text = String::from_utf8_lossy(&answer).to_string();
        assert!(text.contains("upload_quota"), "{text}");
        text.split_whitespace().nth(1).unwrap().to_string()
    };
    assert_eq!(status, "429");
    let day = gridwork_server::blobs::utc_day(gridwork_server::clock::now_ms());
    assert_eq!(
        server
            .storage
            .uploaded_bytes(phone.device, day)
            .await
            .unwrap(),
        80_000,
        "the quota holds exactly"
    );
    let r = head(&server, &phone, &hash).await;
    assert_eq!(header(&r, "upload-offset").as_deref(), Some("0"));
    // Within what is left: accepted.
    let r = patch(&server, &phone, &hash, 0, 80_000, &second[..20_000]).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    // Another phone has its own quota.
    let other = server.phone("李强", Role::Gridworker).await;
    upload(&server, &other, &second, 80_000).await;
}

/// Two (here eight) PATCHes of one device at once cannot together pass the daily quota: the
/// check and the count are one atomic step of the storage, so the bytes accepted never exceed
/// the quota, and what is counted is exactly what was accepted.
async fn concurrent_patches_never_pass_the_daily_quota_together<S: Backend>() {
    const QUOTA: u64 = 100_000;
    const BODY: usize = 30_000;
    let server = TestServer::<S>::fresh_with(ServerOptions {
        blob_limits: BlobLimits {
            max_blob_bytes: 1024 * 1024,
            device_daily_bytes: QUOTA,
        },
        ..ServerOptions::default()
    })
    .await;
    let phone = server.phone("王芳", Role::Gridworker).await;
    let pictures: Vec<Vec<u8>> = (0..8).map(|i| picture(60_000, 40 + i)).collect();
    let answers = futures_util::future::join_all(pictures.iter().map(|p| {
        let hash = BlobHash::of(p);
        let (server, phone) = (&server, &phone);
        async move { patch(server, phone, &hash, 0, p.len() as u64, &p[..BODY]).await }
    }))
    .await;
    let mut accepted = 0u64;
    for r in answers {
        match r.status() {
            StatusCode::NO_CONTENT => accepted += 1,
            StatusCode::TOO_MANY_REQUESTS => assert_eq!(error_code(r).await, "upload_quota"),
            other => panic!("{other}: {}", r.text().await.unwrap()),
        }
    }
    assert!(
        accepted * BODY as u64 <= QUOTA,
        "{accepted} bodies accepted"
    );
    // Every body that fits was taken (3 × 30,000 ≤ 100,000 < 4 × 30,000).
    assert_eq!(accepted, 3);
    let day = gridwork_server::blobs::utc_day(gridwork_server::clock::now_ms());
    assert_eq!(
        server
            .storage
            .uploaded_bytes(phone.device, day)
            .await
            .unwrap(),
        accepted * BODY as u64,
        "counted exactly what was accepted"
    );
    // What was accepted is held: the offsets say so.
    let mut held = 0;
    for p in &pictures {
        let r = head(&server, &phone, &BlobHash::of(p)).await;
        match header(&r, "upload-offset").as_deref() {
            Some("30000") => held += 1,
            Some("0") => {}
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(held, accepted);
    // The storage's reservation alone, many at once: never past the limit.
    let other = server.phone("李强", Role::Gridworker).await;
    let reserved = futures_util::future::join_all((0..16).map(|_| {
        server
            .storage
            .reserve_uploaded_bytes(other.device, day, 7_000, QUOTA)
    }))
    .await;
    let granted = reserved
        .into_iter()
        .filter(|r| *r.as_ref().unwrap())
        .count() as u64;
    assert_eq!(granted, QUOTA / 7_000);
    assert_eq!(
        server
            .storage
            .uploaded_bytes(other.device, day)
            .await
            .unwrap(),
        granted * 7_000
    );
    // Given back: what was reserved and did not arrive no longer counts.
    server
        .storage
        .release_uploaded_bytes(other.device, day, 7_000)
        .await
        .unwrap();
    assert_eq!(
        server
            .storage
            .uploaded_bytes(other.device, day)
            .await
            .unwrap(),
        (granted - 1) * 7_000
    );
}

async fn the_sweep_deletes_orphans_after_the_grace_and_stale_uploads<S: Backend>() {
    let blobs = BlobStore::in_memory();
    let server = TestServer::<S>::fresh_with(ServerOptions {
        blobs: blobs.clone(),
        ..ServerOptions::default()
    })
    .await;
    let mut admin = server.phone("管理员", Role::Admin).await;
    let t = town(&mut admin, 1);
    server.push(&admin, &t.ops).await;
    let (pic, thumb, orphan) = (picture(5_000, 5), picture(500, 6), picture(7_000, 7));
    upload(&server, &admin, &pic, 5_000).await;
    upload(&server, &admin, &thumb, 500).await;
    upload(&server, &admin, &orphan, 7_000).await;
    let step = admin.event(t.hazard.id, photo(&pic, &thumb));
    accepted(&server.push(&admin, &[step]).await.results[0]);
    // Half an upload.
    let partial = picture(10_000, 8);
    let r = patch(
        &server,
        &admin,
        &BlobHash::of(&partial),
        0,
        10_000,
        &partial[..4_000],
    )
    .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);

    let policy = SweepPolicy::DEFAULT;
    let now = gridwork_server::clock::now_ms();
    // Within the grace period, and the upload fresh: nothing goes.
    let swept = gc::sweep(&*server.storage, &blobs, policy, now)
        .await
        .unwrap();
    assert_eq!((swept.blobs, swept.deleted, swept.uploads), (3, 0, 0));
    // Eight days on: the orphan goes, the referenced pictures stay, the stale upload goes.
    let later = now + 8 * 24 * 3600 * 1000;
    let swept = gc::sweep(&*server.storage, &blobs, policy, later)
        .await
        .unwrap();
    assert_eq!(
        (swept.deleted, swept.deleted_bytes, swept.uploads),
        (1, 7_000, 1)
    );
    assert!(blobs.bytes(&BlobHash::of(&orphan)).await.unwrap().is_none());
    assert_eq!(
        blobs.bytes(&BlobHash::of(&pic)).await.unwrap().unwrap(),
        pic
    );
    assert_eq!(
        blobs.bytes(&BlobHash::of(&thumb)).await.unwrap().unwrap(),
        thumb
    );
    let r = head(&server, &admin, &BlobHash::of(&partial)).await;
    assert_eq!(header(&r, "upload-offset").as_deref(), Some("0"));
}

/// The fields of a building's or household's photo (ADR 0043): `photo_<picture>` and its
/// reference.
pub fn record_photo(picture: &[u8], thumbnail: &[u8]) -> serde_json::Value {
    let CaseAction::Photo {
        attachment: Some(a),
        ..
    } = photo(picture, thumbnail)
    else {
        unreachable!()
    };
    let mut fields = serde_json::Map::new();
    fields.insert(
        gridwork_domain::attachment::photo_field(&a.blob.hash),
        serde_json::to_value(&*a).unwrap(),
    );
    serde_json::Value::Object(fields)
}

/// A photo field set to null: the photo removed.
fn removed_photo(picture: &[u8]) -> serde_json::Value {
    let mut fields = serde_json::Map::new();
    fields.insert(
        gridwork_domain::attachment::photo_field(&BlobHash::of(picture)),
        serde_json::Value::Null,
    );
    serde_json::Value::Object(fields)
}

async fn console_blob<S: Backend>(
    server: &TestServer<S>,
    cookie: &str,
    hash: &BlobHash,
) -> reqwest::Response {
    server
        .http
        .get(server.url(&format!("/console/blobs/{hash}")))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
}

/// Photos held by a building and a household (ADR 0043): filed from the record's fields, both
/// of two phones' concurrent photos kept, served by the record's CURRENT place (the building
/// moved to another grid: the new grid's gridworker fetches, the old one's no longer), refused
/// to a phone outside it, a revoked phone and a console user of another subdistrict; a removed
/// photo and a deleted record's photos are nobody's.
async fn a_records_photos_reach_who_may_see_the_record_now<S: Backend>() {
    use gridwork_domain::op::EntityKind;
    let server = TestServer::<S>::fresh().await;
    let mut admin = server.phone("管理员", Role::Admin).await;
    let t = town(&mut admin, 2);
    let community = t.areas[3].id;
    let other_grid = Area {
        id: Uuid::now_v7(),
        level: AreaLevel::Grid,
        code: "330106001001002".into(),
        name: "梅花碑第二网格".into(),
        parent_id: Some(community),
        response_policies: vec![],
    };
    let other_sub = Area {
        id: Uuid::now_v7(),
        level: AreaLevel::Subdistrict,
        code: "330106002".into(),
        name: "西溪街道".into(),
        parent_id: Some(t.areas[0].id),
        response_policies: vec![],
    };
    let mut ops = t.ops.clone();
    ops.push(admin.create(&other_grid));
    ops.push(admin.create(&other_sub));
    for r in server.push(&admin, &ops).await.results {
        accepted(&r);
    }
    let grid = t.areas.last().unwrap().id;
    let sub = t.areas[1].id;
    let mut wang = phone_in(&server, "王芳", grid).await;
    let mut li = phone_in(&server, "李强", other_grid.id).await;
    let zhao = console_user(&server, "赵敏", sub).await;
    let qian = console_user(&server, "钱进", other_sub.id).await;
    let building = t.households[0].building_id;
    let household = t.households[0].id;

    // Two photos of the building, taken by two phones that had not seen each other's (no base),
    // and one of a household in it.
    let (exit, exit_thumb) = (picture(40_000, 11), picture(2_000, 12));
    let (stairs, stairs_thumb) = (picture(30_000, 13), picture(1_500, 14));
    let (room, room_thumb) = (picture(20_000, 15), picture(1_000, 16));
    for bytes in [
        &exit,
        &exit_thumb,
        &stairs,
        &stairs_thumb,
        &room,
        &room_thumb,
    ] {
        upload(&server, &admin, bytes, 16_000).await;
    }
    let by_wang = wang.set(
        EntityKind::Building,
        building,
        record_photo(&exit, &exit_thumb),
    );
    let by_admin = admin.set(
        EntityKind::Building,
        building,
        record_photo(&stairs, &stairs_thumb),
    );
    accepted(&server.push(&wang, &[by_wang]).await.results[0]);
    accepted(&server.push(&admin, &[by_admin]).await.results[0]);
    let room_op = wang.set(
        EntityKind::Household,
        household,
        record_photo(&room, &room_thumb),
    );
    accepted(&server.push(&wang, &[room_op]).await.results[0]);
    let stored = server.storage.record(building).await.unwrap().unwrap();
    let held = gridwork_domain::attachment::record_photos(&stored.fields);
    assert_eq!(
        held.iter()
            .map(|a| a.blob.hash)
            .collect::<std::collections::BTreeSet<_>>(),
        [BlobHash::of(&exit), BlobHash::of(&stairs)].into(),
        "both concurrent photos are kept"
    );
    for (bytes, record) in [
        (&exit, building),
        (&exit_thumb, building),
        (&stairs, building),
        (&room, household),
        (&room_thumb, household),
    ] {
        assert_eq!(
            server
                .storage
                .blob_records(BlobHash::of(bytes))
                .await
                .unwrap(),
            vec![record]
        );
    }
    let referenced = server
        .storage
        .referenced_blobs(vec![BlobHash::of(&room), BlobHash::of(b"nothing")])
        .await
        .unwrap();
    assert_eq!(referenced, vec![BlobHash::of(&room)]);

    // The building's grid: its gridworker and its subdistrict's console fetch; the other grid,
    // the other subdistrict do not (the same 404 as a blob never stored).
    for bytes in [&exit, &stairs_thumb, &room] {
        let hash = BlobHash::of(bytes);
        let r = get_blob(&server, &wang, &hash).await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.bytes().await.unwrap().as_ref(), &bytes[..]);
        let r = get_blob(&server, &li, &hash).await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        assert_eq!(error_code(r).await, "blob_not_found");
        let r = console_blob(&server, &zhao, &hash).await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.bytes().await.unwrap().as_ref(), &bytes[..]);
        let r = console_blob(&server, &qian, &hash).await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
    }

    // The grids are redrawn: the building (and the household in it) moves to the other grid.
    let moved = admin.set(
        EntityKind::Building,
        building,
        serde_json::json!({ "grid_id": other_grid.id }),
    );
    accepted(&server.push(&admin, &[moved]).await.results[0]);
    for bytes in [&exit, &room_thumb] {
        let hash = BlobHash::of(bytes);
        let r = get_blob(&server, &li, &hash).await;
        assert_eq!(
            r.status(),
            StatusCode::OK,
            "the new grid's gridworker fetches"
        );
        assert_eq!(r.bytes().await.unwrap().as_ref(), &bytes[..]);
        let r = get_blob(&server, &wang, &hash).await;
        assert_eq!(
            r.status(),
            StatusCode::NOT_FOUND,
            "the old grid's no longer"
        );
    }

    // A photo removed (its field null): nobody's, its rows gone, the other photo still served.
    let removed = li.set(EntityKind::Building, building, removed_photo(&exit));
    accepted(&server.push(&li, &[removed]).await.results[0]);
    assert!(
        server
            .storage
            .blob_records(BlobHash::of(&exit))
            .await
            .unwrap()
            .is_empty()
    );
    let r = get_blob(&server, &li, &BlobHash::of(&exit)).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = get_blob(&server, &li, &BlobHash::of(&stairs)).await;
    assert_eq!(r.status(), StatusCode::OK);
    // A late copy of an older write of the removed photo does not file it again: the merged
    // field (null) decides.
    let mut late = admin.set(
        EntityKind::Building,
        building,
        record_photo(&exit, &exit_thumb),
    );
    late.stamp.hlc = gridwork_domain::Hlc::new(1, 0);
    accepted(&server.push(&admin, &[late]).await.results[0]);
    assert!(
        server
            .storage
            .blob_records(BlobHash::of(&exit))
            .await
            .unwrap()
            .is_empty()
    );

    // A deleted household's photos go with it.
    let gone = admin.delete(EntityKind::Household, household);
    accepted(&server.push(&admin, &[gone]).await.results[0]);
    assert!(
        server
            .storage
            .blob_records(BlobHash::of(&room))
            .await
            .unwrap()
            .is_empty()
    );
    let r = get_blob(&server, &li, &BlobHash::of(&room)).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    // Revoked: 401.
    server
        .storage
        .revoke_device(li.device, gridwork_server::clock::now_ms())
        .await
        .unwrap();
    let r = get_blob(&server, &li, &BlobHash::of(&stairs)).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

    // A photo field that names another picture than its value is refused by the schema.
    let mut lie = record_photo(&stairs, &stairs_thumb);
    let value = lie
        .as_object_mut()
        .unwrap()
        .remove(&gridwork_domain::attachment::photo_field(&BlobHash::of(
            &stairs,
        )))
        .unwrap();
    let lie = serde_json::json!({
        gridwork_domain::attachment::photo_field(&BlobHash::of(&exit)): value
    });
    let op = admin.set(EntityKind::Building, building, lie);
    let answer = server.push(&admin, &[op]).await;
    crate::common::rejected(&answer.results[0]);
}

/// The sweep keeps a blob only a record's photo references, and collects it once the photo is
/// removed and the grace period has passed.
async fn the_sweep_keeps_a_blob_only_a_record_references<S: Backend>() {
    use gridwork_domain::op::EntityKind;
    let blobs = BlobStore::in_memory();
    let server = TestServer::<S>::fresh_with(ServerOptions {
        blobs: blobs.clone(),
        ..ServerOptions::default()
    })
    .await;
    let mut admin = server.phone("管理员", Role::Admin).await;
    let t = town(&mut admin, 1);
    server.push(&admin, &t.ops).await;
    let building = t.households[0].building_id;
    let (pic, thumb) = (picture(6_000, 21), picture(600, 22));
    upload(&server, &admin, &pic, 6_000).await;
    upload(&server, &admin, &thumb, 600).await;
    let op = admin.set(EntityKind::Building, building, record_photo(&pic, &thumb));
    accepted(&server.push(&admin, &[op]).await.results[0]);
    let policy = SweepPolicy::DEFAULT;
    let later = gridwork_server::clock::now_ms() + 8 * 24 * 3600 * 1000;
    let swept = gc::sweep(&*server.storage, &blobs, policy, later)
        .await
        .unwrap();
    assert_eq!((swept.blobs, swept.deleted), (2, 0));
    assert_eq!(
        blobs.bytes(&BlobHash::of(&pic)).await.unwrap().unwrap(),
        pic
    );
    // Removed: an orphan, swept.
    let op = admin.set(EntityKind::Building, building, removed_photo(&pic));
    accepted(&server.push(&admin, &[op]).await.results[0]);
    let swept = gc::sweep(&*server.storage, &blobs, policy, later)
        .await
        .unwrap();
    assert_eq!((swept.deleted, swept.deleted_bytes), (2, 6_600));
    assert!(blobs.bytes(&BlobHash::of(&pic)).await.unwrap().is_none());
}

on_both_backends!(
    a_records_photos_reach_who_may_see_the_record_now,
    the_sweep_keeps_a_blob_only_a_record_references,
    uploads_resume_and_photos_reach_only_who_may_see_them,
    the_daily_quota_refuses_with_retry_after,
    concurrent_patches_never_pass_the_daily_quota_together,
    the_sweep_deletes_orphans_after_the_grace_and_stale_uploads,
);

/// A PATCH whose body stops half-way (the connection drops): the bytes that arrived are kept,
/// and the phone resumes from them.
#[tokio::test]
async fn a_patch_cut_off_mid_body_keeps_what_arrived() {
    use tokio::io::AsyncWriteExt;
    let server = TestServer::start().await;
    let phone = server.phone("王芳", Role::Gridworker).await;
    let pic = picture(200_000, 9);
    let hash = BlobHash::of(&pic);
    let addr = server.handle.as_ref().unwrap().local_addr();
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head_text = format!(
        "PATCH /v1/uploads/{hash} HTTP/1.1\r\nhost: {addr}\r\nauthorization: Bearer {}\r\n\
         upload-offset: 0\r\nupload-length: 200000\r\n\
         content-type: application/offset+octet-stream\r\ncontent-length: 100000\r\n\r\n",
        phone.token
    );
    tcp.write_all(head_text.as_bytes()).await.unwrap();
    tcp.write_all(&pic[..60_000]).await.unwrap();
    tcp.flush().await.unwrap();
    // Give the server the bytes, then drop the connection mid-body.
    tokio::time::sleep(Duration::from_millis(300)).await;
    drop(tcp);
    let mut offset = String::new();
    for _ in 0..100 {
        let r = head(&server, &phone, &hash).await;
        offset = header(&r, "upload-offset").unwrap();
        if offset != "0" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(offset, "60000", "the bytes that arrived are kept");
    // The 100,000 bytes the PATCH announced were reserved of the day's quota before its body
    // was read; the 40,000 that never came are given back, the 60,000 kept stay counted.
    let day = gridwork_server::blobs::utc_day(gridwork_server::clock::now_ms());
    let mut counted = 0;
    for _ in 0..100 {
        counted = server
            .storage
            .uploaded_bytes(phone.device, day)
            .await
            .unwrap();
        if counted == 60_000 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        counted, 60_000,
        "what was reserved but never arrived is given back"
    );
    let r = patch(&server, &phone, &hash, 60_000, 200_000, &pic[60_000..]).await;
    assert_eq!(r.status(), StatusCode::CREATED);
}

/// An upload half done when the server restarts is resumed from where it stood (the local
/// filesystem store under the data dir).
#[tokio::test]
async fn an_upload_resumes_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = TestServer::start_with(ServerOptions {
        blobs: BlobStore::local(dir.path()).unwrap(),
        ..ServerOptions::default()
    })
    .await;
    let phone = server.phone("王芳", Role::Gridworker).await;
    let pic = picture(50_000, 10);
    let hash = BlobHash::of(&pic);
    let r = patch(&server, &phone, &hash, 0, 50_000, &pic[..20_000]).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    server.restart().await;
    let r = head(&server, &phone, &hash).await;
    assert_eq!(header(&r, "upload-offset").as_deref(), Some("20000"));
    let r = patch(&server, &phone, &hash, 20_000, 50_000, &pic[20_000..]).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let reopened = BlobStore::local(dir.path()).unwrap();
    assert_eq!(reopened.bytes(&hash).await.unwrap().unwrap(), pic);
}

/// The binary keeps photos in `photos/` beside its SQLite database under the limits of its
/// configuration file, and `blobs gc` deletes the unreferenced ones past the grace period,
/// saying so in Chinese.
#[tokio::test]
async fn the_binary_keeps_photos_beside_its_database_and_gc_sweeps_them() {
    use crate::cli::{admin, serve};
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("server.db");
    let db = db.to_str().unwrap();
    let (ok, _, err) = admin(&[
        "area",
        "create",
        "--db",
        db,
        "--code",
        "330106",
        "--name",
        "西湖区",
        "--level",
        "区",
    ]);
    assert!(ok, "{err}");
    let (ok, user, err) = admin(&[
        "admin",
        "create-user",
        "--db",
        db,
        "--name",
        "张伟",
        "--role",
        "gridworker",
        "--scope",
        "330106",
    ]);
    assert!(ok, "{err}");
    let (ok, code, err) = admin(&["admin", "enrollment-code", "--db", db, "--user", &user]);
    assert!(ok, "{err}");
    // The limits come from the server's configuration file like every flag of `serve`.
    let config = dir.path().join("server.toml");
    std::fs::write(&config, "blob-max-mib = 1\nblob-daily-mib = 64\n").unwrap();
    let (server, base) = serve(&["--db", db, "--config", config.to_str().unwrap()]);
    let http = reqwest::Client::new();
    let answer: gridwork_domain::sync::EnrollResponse = http
        .post(format!("{base}/v1/enroll"))
        .json(&gridwork_domain::sync::EnrollRequest {
            code,
            device_id: Uuid::now_v7(),
            device_name: "张伟的手机".into(),
        })
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let pic = picture(20_000, 11);
    let hash = BlobHash::of(&pic);
    let r = http
        .patch(format!("{base}/v1/uploads/{hash}"))
        .bearer_auth(&answer.token)
        .header("upload-offset", 0)
        .header("upload-length", 20_000)
        .header("content-type", "application/offset+octet-stream")
        .body(pic.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let r = http
        .patch(format!("{base}/v1/uploads/{}", BlobHash::of(b"big")))
        .bearer_auth(&answer.token)
        .header("upload-offset", 0)
        .header("upload-length", 1024 * 1024 + 1)
        .header("content-type", "application/offset+octet-stream")
        .body(vec![0u8; 10])
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::PAYLOAD_TOO_LARGE,
        "blob-max-mib = 1"
    );
    drop(server);
    let hex = hash.to_hex();
    let file = dir.path().join("photos/blobs").join(&hex[..2]).join(&hex);
    assert_eq!(std::fs::read(&file).unwrap(), pic);

    // Within the grace period it stays; with none, the unreferenced photo goes.
    let (ok, out, err) = admin(&["blobs", "gc", "--db", db]);
    assert!(ok, "{err}");
    assert!(
        out.contains("照片清理完成：共 1 张，删除无引用且超过 7 天的 0 张"),
        "{out}"
    );
    assert!(file.exists());
    let (ok, out, err) = admin(&["blobs", "gc", "--db", db, "--blob-grace-days", "0"]);
    assert!(ok, "{err}");
    assert!(out.contains("删除无引用且超过 0 天的 1 张"), "{out}");
    assert!(!file.exists());
}

/// A photo step stored before `blob_refs` existed (a server of the previous schema).
fn old_photo_step() -> (gridwork_domain::workflow::CaseEvent, Vec<u8>, Vec<u8>) {
    let (pic, thumb) = (picture(1_000, 30), picture(100, 31));
    let event = gridwork_domain::workflow::CaseEvent {
        id: Uuid::now_v7(),
        case_id: Uuid::now_v7(),
        stamp: gridwork_domain::hlc::Stamp::new(
            gridwork_domain::hlc::Hlc::new(1_795_000_000_000, 0),
            Uuid::now_v7(),
        ),
        actor: None,
        action: photo(&pic, &thumb),
    };
    (event, pic, thumb)
}

/// Upgrading a SQLite database files the photo steps it already held.
#[tokio::test]
async fn the_migration_files_photo_steps_stored_before_it_on_sqlite() {
    use gridwork_server::storage::SqliteStorage;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("server.db");
    let (event, pic, thumb) = old_photo_step();
    drop(SqliteStorage::open(&path).unwrap());
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        // As the previous server left it: no blob tables, version 7.
        conn.execute_batch(
            "DROP TABLE blob_refs; DROP TABLE upload_quota; DROP TABLE record_blob_refs; PRAGMA user_version = 7;",
        )
        .unwrap();
        conn.execute(
            "INSERT INTO case_events (id, case_id, hlc, event, seq) VALUES (?1, ?2, 1, ?3, 1)",
            rusqlite::params![
                event.id.to_string(),
                event.case_id.to_string(),
                serde_json::to_string(&event).unwrap()
            ],
        )
        .unwrap();
        // A step of another kind is not filed.
        let mut note = old_photo_step().0;
        note.action = CaseAction::Note {
            text: "无照片".into(),
        };
        conn.execute(
            "INSERT INTO case_events (id, case_id, hlc, event, seq) VALUES (?1, ?2, 1, ?3, 2)",
            rusqlite::params![
                note.id.to_string(),
                note.case_id.to_string(),
                serde_json::to_string(&note).unwrap()
            ],
        )
        .unwrap();
    }
    let storage = SqliteStorage::open(&path).unwrap();
    for bytes in [&pic, &thumb] {
        assert_eq!(
            storage.blob_cases(BlobHash::of(bytes)).await.unwrap(),
            vec![event.case_id]
        );
    }
    let count: i64 = rusqlite::Connection::open(&path)
        .unwrap()
        .query_row("SELECT count(*) FROM blob_refs", [], |r| r.get(0))
        .unwrap();
    assert_eq!(count, 2, "the picture and its thumbnail, nothing else");
}

/// Upgrading a PostgreSQL database files the photo steps it already held.
#[tokio::test]
async fn the_migration_files_photo_steps_stored_before_it_on_postgresql() {
    use gridwork_server::storage::PgStorage;
    use gridwork_server::storage::postgres::ScratchDatabase;
    use gridwork_server::storage::postgres::open::{latest_version, migrate_to};
    let db = ScratchDatabase::for_test().await;
    let (event, pic, thumb) = old_photo_step();
    {
        let pool = deadpool_postgres::Config {
            url: Some(db.url().to_string()),
            ..Default::default()
        }
        .create_pool(
            Some(deadpool_postgres::Runtime::Tokio1),
            tokio_postgres::NoTls,
        )
        .unwrap();
        let mut client = pool.get().await.unwrap();
        // As the server before photos left it: version 6, no blob tables.
        migrate_to(&mut client, 6).await.unwrap();
        assert!(latest_version() > 6);
        client
            .execute(
                "INSERT INTO case_events (id, case_id, hlc, event, seq) VALUES ($1, $2, 1, $3, 1)",
                &[
                    &event.id,
                    &event.case_id,
                    &serde_json::to_string(&event).unwrap(),
                ],
            )
            .await
            .unwrap();
    }
    let storage = PgStorage::connect(db.url()).await.unwrap();
    for bytes in [&pic, &thumb] {
        assert_eq!(
            storage.blob_cases(BlobHash::of(bytes)).await.unwrap(),
            vec![event.case_id]
        );
    }
}

/// The value of the series `name{labels}` in a scrape.
fn series(scrape: &str, name_and_labels: &str) -> Option<f64> {
    scrape.lines().find_map(|line| {
        let rest = line.strip_prefix(name_and_labels)?;
        rest.strip_prefix(' ')?.trim().parse().ok()
    })
}

/// The metrics count the bytes that went up and down, the blobs stored, and the refusals.
#[tokio::test]
async fn metrics_count_blob_bytes_and_refusals() {
    let server = TestServer::start_with(ServerOptions {
        metrics_listen: Some("127.0.0.1:0".parse().unwrap()),
        ..ServerOptions::default()
    })
    .await;
    let mut admin = server.phone("管理员", Role::Admin).await;
    let t = town(&mut admin, 1);
    server.push(&admin, &t.ops).await;
    let (pic, thumb) = (picture(30_000, 40), picture(2_000, 41));
    let hash = upload(&server, &admin, &pic, 20_000).await;
    upload(&server, &admin, &thumb, 2_000).await;
    let step = admin.event(t.hazard.id, photo(&pic, &thumb));
    accepted(&server.push(&admin, &[step]).await.results[0]);
    let r = get_blob(&server, &admin, &hash).await;
    assert_eq!(r.bytes().await.unwrap().len(), 30_000);
    let r = patch(&server, &admin, &BlobHash::of(b"x"), 0, 1 << 40, b"x").await;
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let r = get_blob(&server, &admin, &BlobHash::of(b"nothing")).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    let url = format!(
        "http://{}/metrics",
        server.handle.as_ref().unwrap().metrics_addr().unwrap()
    );
    let text = reqwest::get(url).await.unwrap().text().await.unwrap();
    let get = |s: &str| series(&text, s).unwrap_or_else(|| panic!("no {s} in\n{text}"));
    assert_eq!(get("gridwork_blob_upload_bytes_total"), 32_000.0);
    assert_eq!(get("gridwork_blobs_stored_total"), 2.0);
    assert_eq!(get("gridwork_blob_download_bytes_total"), 30_000.0);
    assert_eq!(
        get(r#"gridwork_blob_refusals_total{direction="upload",reason="blob_too_large"}"#),
        1.0
    );
    assert_eq!(
        get(r#"gridwork_blob_refusals_total{direction="download",reason="blob_not_found"}"#),
        1.0
    );
    assert!(text.contains("# HELP gridwork_blob_upload_bytes_total"));
}
