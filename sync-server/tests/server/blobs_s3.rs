//! The S3 blob store for real, against the S3-compatible server of `scripts/test-s3.sh` (moto's
//! server mode) that `GRIDWORK_TEST_S3_ENDPOINT` names: the tests fail, never skip, without it.
//! Each test makes a bucket of its own. The same layout checks as the local store's, then an
//! upload begun through one server process's store and finished through another's, over HTTP.

use bytes::Bytes;
use futures_util::StreamExt;
use gridwork_domain::attachment::BlobHash;
use gridwork_domain::sync::Role;
use gridwork_server::ServerOptions;
use gridwork_server::blobs::{Appended, BlobStore, UploadState};
use reqwest::StatusCode;
use uuid::Uuid;

use crate::blobs::picture;
use crate::common::TestServer;

/// The endpoint of the test S3 server.
fn endpoint() -> String {
    std::env::var("GRIDWORK_TEST_S3_ENDPOINT").expect(
        "GRIDWORK_TEST_S3_ENDPOINT is not set: eval \"$(./scripts/test-s3.sh start)\" first \
         (./scripts/test.sh does it)",
    )
}

/// A fresh bucket on the test server, and a store on it (a new client each call: what another
/// process would have).
async fn bucket() -> String {
    let name = format!("gridwork-test-{}", Uuid::now_v7().simple());
    // moto creates a bucket on an unsigned PUT.
    let r = reqwest::Client::new()
        .put(format!("{}/{name}", endpoint()))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "bucket created: {}", r.status());
    name
}

fn store(bucket: &str) -> BlobStore {
    let endpoint = endpoint();
    BlobStore::s3(
        bucket,
        &[
            ("aws_endpoint", &endpoint),
            ("aws_access_key_id", "testing"),
            ("aws_secret_access_key", "testing"),
            ("aws_region", "us-east-1"),
            ("aws_allow_http", "true"),
        ],
    )
    .unwrap()
}

#[tokio::test]
async fn the_layout_holds_on_s3() {
    let bucket = bucket().await;
    let (one, other) = (store(&bucket), store(&bucket));
    let pic = picture(100_000, 21);
    let hash = BlobHash::of(&pic);
    let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
    let n = pic.len() as u64;
    let partial = |offset, length| UploadState::Partial { offset, length };
    assert_eq!(one.upload_state(&hash, a).await.unwrap(), partial(0, None));
    assert_eq!(
        one.append(&hash, a, n, 0, Bytes::copy_from_slice(&pic[..40_000]))
            .await
            .unwrap(),
        Appended::Partial(40_000)
    );
    // Another process sees where the upload stands; another device's upload is its own.
    assert_eq!(
        other.upload_state(&hash, a).await.unwrap(),
        partial(40_000, Some(n))
    );
    assert_eq!(
        other.upload_state(&hash, b).await.unwrap(),
        partial(0, None)
    );
    // ...and finishes it.
    assert_eq!(
        other
            .append(&hash, a, n, 40_000, Bytes::copy_from_slice(&pic[40_000..]))
            .await
            .unwrap(),
        Appended::Stored
    );
    assert_eq!(
        one.upload_state(&hash, b).await.unwrap(),
        UploadState::Complete(n)
    );
    assert_eq!(one.bytes(&hash).await.unwrap().unwrap(), pic);
    // No piece is left: a new upload by the same device would start from 0 (were the blob gone).
    one.delete(&hash).await.unwrap();
    assert_eq!(one.upload_state(&hash, a).await.unwrap(), partial(0, None));
    one.put(Bytes::from(pic.clone())).await.unwrap();
    let read = one.read(&hash, 99_000).await.unwrap().unwrap();
    assert_eq!((read.size, read.from), (n, 99_000));
    let tail: Vec<Bytes> = read.stream.map(|r| r.unwrap()).collect().await;
    assert_eq!(tail.concat(), pic[99_000..]);
    // Bytes that do not hash to their name are discarded, never stored.
    let liar = BlobHash::of(b"something else");
    assert_eq!(
        one.append(&liar, a, 5, 0, Bytes::from_static(b"hello"))
            .await
            .unwrap(),
        Appended::HashMismatch
    );
    assert_eq!(one.size(&liar).await.unwrap(), None);
    assert_eq!(one.upload_state(&liar, a).await.unwrap(), partial(0, None));
    // The sweep's listing: the blob, with its size.
    let listed = one.list_blobs().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!((listed[0].0, listed[0].1), (hash, n));
}

/// An upload begun through one server process and finished through another (each with its own
/// S3 client on one bucket): the upload's state is the bucket's, not a process's.
#[tokio::test]
async fn an_upload_moves_between_server_processes_on_s3() {
    let bucket = bucket().await;
    let first = TestServer::start_with(ServerOptions {
        blobs: store(&bucket),
        ..ServerOptions::default()
    })
    .await;
    let phone = first.phone("王芳", Role::Gridworker).await;
    let pic = picture(70_000, 22);
    let hash = BlobHash::of(&pic);
    let send = |server: &TestServer, offset: usize, end: usize| {
        let request = server
            .http
            .patch(server.url(&format!("/v1/uploads/{hash}")))
            .bearer_auth(&phone.token)
            .header("upload-offset", offset)
            .header("upload-length", pic.len())
            .header("content-type", "application/offset+octet-stream")
            .body(pic[offset..end].to_vec());
        async move { request.send().await.unwrap() }
    };
    let r = send(&first, 0, 30_000).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);

    // The second process serves the same database and bucket.
    let second = gridwork_server::serve_with(
        tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(),
        first.storage.clone(),
        ServerOptions {
            blobs: store(&bucket),
            ..ServerOptions::default()
        },
    )
    .await
    .unwrap();
    let head = first
        .http
        .head(format!("{}/v1/uploads/{hash}", second.url()))
        .bearer_auth(&phone.token)
        .send()
        .await
        .unwrap();
    assert_eq!(head.headers()["upload-offset"], "30000");
    let r = first
        .http
        .patch(format!("{}/v1/uploads/{hash}", second.url()))
        .bearer_auth(&phone.token)
        .header("upload-offset", 30_000)
        .header("upload-length", pic.len())
        .header("content-type", "application/offset+octet-stream")
        .body(pic[30_000..].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(store(&bucket).bytes(&hash).await.unwrap().unwrap(), pic);
    // The first process knows it is stored.
    let r = send(&first, 0, 10).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(r.headers()["upload-complete"], "1");
    second.shutdown().await.unwrap();
}
