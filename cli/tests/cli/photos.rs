//! Photos from the terminal (issue 24): `case act ID photo --photo FILE`, `attachment list`,
//! `attachment upload`, and on another phone `attachment get HASH --out FILE`; Chinese first.

use std::process::{Command, Output};

use gridwork_domain::sync::Role;

use super::{LocalServer, stderr, stdout};

/// A small camera JPEG whose EXIF carries a GPS position and a camera serial number.
const CAMERA_JPEG_HEX: &[&str] = &[
    "ffd8ffe000104a46494600010200000100010000fffe00176f776e65723a2053455249414c2d38363735333039",
    "ffe1010c4578696600004d4d002a000000080004010f0002000000090000009e01120003000000010006000087",
    "690004000000010000003e8825000400000001000000680000000000039003000200000014000000a890110002",
    "00000007000000bca43100020000000f000000c400000000000400010002000000024e00000000020005000000",
    "03000000d40003000200000002450000000004000500000003000000ec00000000534e4f4f5043414d00003230",
    "32363a30353a30342030393a33303a3135002b30383a3030000053455249414c2d383637353330390000000000",
    "1e000000010000000f000000010000002400000001000000780000000100000009000000010000000000000001",
    "ffc00011080010001803011100021101031101ffdb004300030202030202030303030403030405080505040405",
    "0a070706080c0a0c0c0b0a0b0b0d0e12100d0e110e0b0b1016101113141515150c0f171816141812141514ffdb",
    "00430103040405040509050509140d0b0d14141414141414141414141414141414141414141414141414141414",
    "14141414141414141414141414141414141414141414ffc4001f00000105010101010101000000000000000001",
    "02030405060708090a0bffc400b5100002010303020403050504040000017d0102030004110512213141061351",
    "6107227114328191a1082342b1c11552d1f02433627282090a161718191a25262728292a3435363738393a4344",
    "45464748494a535455565758595a636465666768696a737475767778797a838485868788898a92939495969798",
    "999aa2a3a4a5a6a7a8a9aab2b3b4b5b6b7b8b9bac2c3c4c5c6c7c8c9cad2d3d4d5d6d7d8d9dae1e2e3e4e5e6e7",
    "e8e9eaf1f2f3f4f5f6f7f8f9faffc4001f0100030101010101010101010000000000000102030405060708090a",
    "0bffc400b511000201020404030407050404000102770001020311040521310612415107617113223281081442",
    "91a1b1c109233352f0156272d10a162434e125f11718191a262728292a35363738393a434445464748494a5354",
    "55565758595a636465666768696a737475767778797a82838485868788898a92939495969798999aa2a3a4a5a6",
    "a7a8a9aab2b3b4b5b6b7b8b9bac2c3c4c5c6c7c8c9cad2d3d4d5d6d7d8d9dae2e3e4e5e6e7e8e9eaf2f3f4f5f6",
    "f7f8f9faffda000c03010002110311003f00fcb48e1ad121464598e1ade28e98c8b31c15d11474c6432382b922",
    "8f0e322cc70d6e91d319166386b78a3a2323ffd9",
];

fn camera_jpeg() -> Vec<u8> {
    let hex: String = CAMERA_JPEG_HEX.concat();
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}

fn run(store: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gridwork"))
        .env_remove("GRIDWORK_LANG")
        .arg("--store")
        .arg(store)
        .args(args)
        .output()
        .expect("the gridwork binary runs")
}

fn ok(out: Output) -> String {
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    stdout(&out)
}

#[test]
fn a_photo_step_uploads_and_another_phone_saves_it_identical() {
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = LocalServer::start(&rt, dir.path());
    let (_centre, _net, seeded) = server.seeded_centre(&rt, "运维", 5);
    let url = server.handle.url();
    let grid = seeded.grids[0].id;
    let worker = dir.path().join("worker.db");
    let code = server.code(&rt, "王芳", Role::Gridworker, vec![grid]);
    ok(run(
        &worker,
        &["device", "enroll", "--server", &url, "--code", &code],
    ));
    ok(run(&worker, &["sync"]));
    let buildings: serde_json::Value = serde_json::from_str(&ok(run(
        &worker,
        &["building", "list", "--area", &grid.to_string(), "--json"],
    )))
    .unwrap();
    let building = buildings[0]["id"].as_str().unwrap().to_string();
    let reported = ok(run(
        &worker,
        &[
            "hazard",
            "report",
            "--building",
            &building,
            "--title",
            "楼道堆物",
        ],
    ));
    let case = reported
        .lines()
        .next()
        .unwrap()
        .rsplit('：')
        .next()
        .unwrap()
        .to_string();

    // The photo step wants its file; with it, the step is recorded and the photo queued.
    let out = run(&worker, &["case", "act", &case, "photo"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("`photo` 步骤需要 --photo 文件"),
        "{}",
        stderr(&out)
    );
    let file = dir.path().join("camera.jpg");
    std::fs::write(&file, camera_jpeg()).unwrap();
    let taken = ok(run(
        &worker,
        &[
            "case",
            "act",
            &case,
            "photo",
            "--photo",
            file.to_str().unwrap(),
        ],
    ));
    assert!(taken.starts_with("照片已记入案件并排队上传："), "{taken}");
    let listed: serde_json::Value =
        serde_json::from_str(&ok(run(&worker, &["attachment", "list", &case, "--json"]))).unwrap();
    let rows = listed.as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["role"], "thumbnail");
    assert_eq!(rows[1]["role"], "picture");
    assert_eq!(rows[1]["upload"]["state"]["state"], "queued");
    assert!(rows[1]["position"]["lat"].as_f64().is_some(), "{listed}");
    let hash = rows[1]["hash"].as_str().unwrap().to_string();
    let table = ok(run(&worker, &["attachment", "list", &case]));
    assert!(
        table.contains("排队中") && table.contains("缩略图"),
        "{table}"
    );

    // Paused, nothing goes; then any network, both go.
    ok(run(&worker, &["attachment", "policy", "paused"]));
    let paused = ok(run(&worker, &["attachment", "upload"]));
    assert!(
        paused.contains("仍在队列 2 个") && paused.contains("已暂停"),
        "{paused}"
    );
    ok(run(&worker, &["attachment", "policy", "any"]));
    ok(run(&worker, &["sync"]));
    let sent = ok(run(&worker, &["attachment", "upload"]));
    assert!(sent.starts_with("照片上传：完成 2 个"), "{sent}");
    let table = ok(run(&worker, &["attachment", "list", &case]));
    assert!(table.contains("已上传"), "{table}");

    // Another phone in the grid saves the picture: the stripped picture, identical by hash.
    let other = dir.path().join("other.db");
    let code = server.code(&rt, "李强", Role::Gridworker, vec![grid]);
    ok(run(
        &other,
        &["device", "enroll", "--server", &url, "--code", &code],
    ));
    ok(run(&other, &["sync"]));
    let saved = dir.path().join("saved.jpg");
    let out = ok(run(
        &other,
        &["attachment", "get", &hash, "--out", saved.to_str().unwrap()],
    ));
    assert!(out.starts_with(&format!("已将 {hash} 写入 ")), "{out}");
    let bytes = std::fs::read(&saved).unwrap();
    let digest = gridwork_domain::attachment::BlobHash::of(&bytes);
    assert_eq!(digest.to_string(), hash);
    assert!(!bytes.windows(14).any(|w| w == b"SERIAL-8675309"));
    // A file that is there is never overwritten; why is said in words of the catalogue.
    let again = ["attachment", "get", &hash, "--out", saved.to_str().unwrap()];
    let refused = run(&other, &again);
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        stderr(&refused).contains("无法写入 --out 指定的文件")
            && stderr(&refused).contains("文件已存在"),
        "{}",
        stderr(&refused)
    );
    let mut english = vec!["--lang", "en"];
    english.extend(again);
    let refused = run(&other, &english);
    assert!(
        stderr(&refused).contains("the file already exists"),
        "{}",
        stderr(&refused)
    );
    assert_eq!(std::fs::read(&saved).unwrap(), bytes, "the file is kept");
    let bad = run(&other, &["attachment", "get", "abc", "--out", "x.jpg"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        stderr(&bad).contains("64 个小写十六进制字符"),
        "{}",
        stderr(&bad)
    );
}

/// A building's and a household's photos from the terminal (ADR 0043): `building photo add`,
/// `household photo add` (the household by `CODE/UNIT`), listed, uploaded, saved by another
/// phone identical, and removed; Chinese words, and English with `--lang en`.
#[test]
fn a_buildings_and_a_households_photo_from_the_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = LocalServer::start(&rt, dir.path());
    let (_centre, _net, seeded) = server.seeded_centre(&rt, "运维", 5);
    let url = server.handle.url();
    let grid = seeded.grids[0].id;
    let worker = dir.path().join("worker.db");
    let code = server.code(&rt, "王芳", Role::Gridworker, vec![grid]);
    ok(run(
        &worker,
        &["device", "enroll", "--server", &url, "--code", &code],
    ));
    ok(run(&worker, &["sync"]));
    let building = seeded
        .buildings
        .iter()
        .find(|b| b.grid_id == grid)
        .unwrap()
        .clone();
    let room = seeded
        .households
        .iter()
        .find(|h| h.building_id == building.id)
        .unwrap()
        .clone();
    let file = dir.path().join("exit.jpg");
    std::fs::write(&file, camera_jpeg()).unwrap();

    let added = ok(run(
        &worker,
        &[
            "building",
            "photo",
            "add",
            &building.address_code,
            "--photo",
            file.to_str().unwrap(),
        ],
    ));
    assert!(added.starts_with("照片已加入该记录并排队上传："), "{added}");
    let unit = format!("{}/{}", building.address_code, room.unit);
    let added = ok(run(
        &worker,
        &[
            "--lang",
            "en",
            "household",
            "photo",
            "add",
            &unit,
            "--photo",
            file.to_str().unwrap(),
        ],
    ));
    assert!(
        added.starts_with("photo added to the record and queued for upload: "),
        "{added}"
    );
    let listed: serde_json::Value = serde_json::from_str(&ok(run(
        &worker,
        &[
            "building",
            "photo",
            "list",
            &building.id.to_string(),
            "--json",
        ],
    )))
    .unwrap();
    let rows = listed.as_array().unwrap();
    assert_eq!(rows.len(), 2, "{listed}");
    assert_eq!(rows[0]["role"], "thumbnail");
    assert_eq!(rows[1]["role"], "picture");
    assert!(rows[1]["added_at_ms"].as_u64().is_some(), "{listed}");
    let hash = rows[1]["hash"].as_str().unwrap().to_string();
    let table = ok(run(&worker, &["household", "photo", "list", &unit]));
    assert!(
        table.contains("排队中") && table.contains("缩略图"),
        "{table}"
    );

    ok(run(&worker, &["sync"]));
    let sent = ok(run(&worker, &["attachment", "upload"]));
    assert!(sent.starts_with("照片上传：完成 2 个"), "{sent}");

    // Another phone of the grid lists the building's photo and saves it, identical.
    let other = dir.path().join("other.db");
    let code = server.code(&rt, "李强", Role::Gridworker, vec![grid]);
    ok(run(
        &other,
        &["device", "enroll", "--server", &url, "--code", &code],
    ));
    ok(run(&other, &["sync"]));
    let table = ok(run(
        &other,
        &["building", "photo", "list", &building.address_code],
    ));
    assert!(table.contains(&hash) && table.contains("未下载"), "{table}");
    let saved = dir.path().join("saved.jpg");
    ok(run(
        &other,
        &["attachment", "get", &hash, "--out", saved.to_str().unwrap()],
    ));
    let bytes = std::fs::read(&saved).unwrap();
    assert_eq!(
        gridwork_domain::attachment::BlobHash::of(&bytes).to_string(),
        hash
    );

    // Removed on the first phone: gone from the other after a sync.
    let removed = ok(run(
        &worker,
        &["building", "photo", "remove", &building.address_code, &hash],
    ));
    assert!(removed.starts_with("已从该记录移除照片"), "{removed}");
    ok(run(&worker, &["sync"]));
    ok(run(&other, &["sync"]));
    let listed: serde_json::Value = serde_json::from_str(&ok(run(
        &other,
        &[
            "building",
            "photo",
            "list",
            &building.address_code,
            "--json",
        ],
    )))
    .unwrap();
    assert_eq!(listed, serde_json::json!([]));
}
