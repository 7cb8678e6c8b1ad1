//! Photos from the terminal (issue 24): `case act ID photo --photo FILE` (or any step with
//! `--photo`), `attachment list CASE`, `attachment get HASH --out FILE`, `attachment upload`,
//! `attachment policy any|unmetered|paused`; a building's or household's photos (ADR 0043):
//! `building photo add|list|remove`, `household photo add|list|remove`.

use std::path::Path;

use gridwork_core::Gridwork;
use gridwork_core::attachments::{
    AttachmentProgress, BlobRole, LaneStop, UploadPolicy, UploadState,
};
use gridwork_domain::attachment::BlobHash;
use gridwork_domain::ids::Id;
use serde_json::json;

use super::device::{runtime, transport};
use super::{CliError, CliResult};
use crate::args::{AttachmentCmd, RecordPhotoCmd};
use crate::i18n::{code, tr};
use crate::output;
use gridwork_domain::attachment::AttachmentRef;
use gridwork_domain::op::EntityKind;

/// Takes the photo in `file` on the case: a photo step recorded at once, its blobs queued.
pub fn take(gw: &Gridwork, case: Id, file: &Path, json: bool) -> CliResult {
    let (_, a) = gw.take_photo_file(case, file)?;
    output::one(json, &a, |a| {
        tr(
            "cli-photo-taken",
            &[
                ("hash", &a.blob.hash.to_string()),
                ("size", &a.blob.size.to_string()),
            ],
        )
    });
    Ok(())
}

/// The `photo` step without `--photo`.
pub fn needs_file() -> CliError {
    CliError::Usage(tr("cli-photo-needs-file", &[]))
}

fn state_words(s: UploadState) -> String {
    let stable = match s {
        UploadState::Queued => "queued",
        UploadState::Uploading => "uploading",
        UploadState::Uploaded => "uploaded",
        UploadState::Paused => "paused",
        UploadState::WaitingForUnmetered => "waiting_for_unmetered",
        UploadState::QuotaExceeded { .. } => "quota_exceeded",
        UploadState::TooLarge => "too_large",
        UploadState::HashMismatch => "hash_mismatch",
    };
    code("upload-state", stable)
}

fn role_words(r: BlobRole) -> String {
    code(
        "blob-role",
        match r {
            BlobRole::Picture => "picture",
            BlobRole::Thumbnail => "thumbnail",
        },
    )
}

/// The rows of `attachment list` for some photos: each thumbnail and picture, its size, and
/// its upload (this phone's) or whether it is here.
fn blob_rows(
    gw: &Gridwork,
    photos: impl IntoIterator<Item = (serde_json::Value, AttachmentRef, bool, bool)>,
    table: &mut Vec<Vec<String>>,
    rows: &mut Vec<serde_json::Value>,
) -> CliResult {
    for (owner, a, thumbnail_here, picture_here) in photos {
        let blobs = a
            .thumbnail
            .map(|t| (t, BlobRole::Thumbnail, thumbnail_here))
            .into_iter()
            .chain([(a.blob, BlobRole::Picture, picture_here)]);
        for (blob, role, here) in blobs {
            let upload: Option<AttachmentProgress> = gw.upload_of(&blob.hash)?;
            table.push(vec![
                blob.hash.to_string(),
                role_words(role),
                blob.size.to_string(),
                upload.as_ref().map_or_else(
                    || {
                        if here {
                            tr("cli-attachment-here", &[])
                        } else {
                            tr("cli-attachment-not-here", &[])
                        }
                    },
                    |u| state_words(u.state),
                ),
                upload
                    .as_ref()
                    .map_or_else(String::new, |u| format!("{}/{}", u.sent, u.total)),
            ]);
            let mut row = json!({
                "hash": blob.hash,
                "role": role,
                "size": blob.size,
                "here": here,
                "media_type": a.media_type,
                "taken_at_ms": a.taken_at_ms,
                "position": a.position,
                "upload": upload,
            });
            if let (Some(row), serde_json::Value::Object(owner)) = (row.as_object_mut(), &owner) {
                row.extend(owner.clone());
            }
            rows.push(row);
        }
    }
    Ok(())
}

fn print_blob_rows(json: bool, table: &[Vec<String>], rows: &[serde_json::Value]) {
    let indices: Vec<usize> = (0..table.len()).collect();
    if json {
        output::list(true, rows, &[], |_| vec![]);
    } else {
        output::list(
            false,
            &indices,
            &["hash", "role", "size", "state", "sent"],
            |i| table[*i].clone(),
        );
    }
}

/// `building photo …` and `household photo …`: a record's photos (ADR 0043).
pub fn record_photo(
    gw: &Gridwork,
    kind: EntityKind,
    record: Id,
    cmd: RecordPhotoCmd,
    json: bool,
) -> CliResult {
    match cmd {
        RecordPhotoCmd::Add { photo, .. } => {
            let a = gw.add_record_photo_file(kind, record, &photo)?;
            output::one(json, &a, |a| {
                tr(
                    "cli-record-photo-added",
                    &[
                        ("hash", &a.blob.hash.to_string()),
                        ("size", &a.blob.size.to_string()),
                    ],
                )
            });
        }
        RecordPhotoCmd::List { .. } => {
            let (mut table, mut rows) = (Vec::new(), Vec::new());
            let photos = gw.record_photos(kind, record)?.into_iter().map(|p| {
                (
                    json!({ "added_at_ms": p.added_at_ms }),
                    p.attachment,
                    p.thumbnail_here,
                    p.picture_here,
                )
            });
            blob_rows(gw, photos, &mut table, &mut rows)?;
            print_blob_rows(json, &table, &rows);
        }
        RecordPhotoCmd::Remove { hash, .. } => {
            let hash = parse_hash(&hash)?;
            gw.remove_record_photo(kind, record, &hash)?;
            output::one(json, &json!({ "removed": hash }), |_| {
                tr("cli-record-photo-removed", &[("hash", &hash.to_string())])
            });
        }
    }
    Ok(())
}

fn parse_hash(text: &str) -> CliResult<BlobHash> {
    text.trim()
        .parse()
        .map_err(|_| CliError::Usage(tr("cli-bad-hash", &[])))
}

pub fn attachment(gw: &Gridwork, cmd: AttachmentCmd, json: bool) -> CliResult {
    match cmd {
        AttachmentCmd::List { case } => {
            // Every blob of the case's photos: this phone's own with their upload, the others'
            // with whether they are here.
            let (mut table, mut rows) = (Vec::new(), Vec::new());
            let photos = gw.case_photos(case)?.into_iter().map(|p| {
                (
                    json!({ "event_id": p.event_id }),
                    p.attachment,
                    p.thumbnail_here,
                    p.picture_here,
                )
            });
            blob_rows(gw, photos, &mut table, &mut rows)?;
            print_blob_rows(json, &table, &rows);
        }
        AttachmentCmd::Get { hash, out } => {
            let hash = parse_hash(&hash)?;
            let bytes = match gw.attachment_bytes(&hash)? {
                Some(b) => b,
                None => {
                    let net = transport(gw)?;
                    match runtime()?.block_on(gw.fetch_attachment(&net, &hash))? {
                        Some(b) => b,
                        None => {
                            return Err(CliError::Usage(tr(
                                "cli-attachment-not-yet",
                                &[("hash", &hash.to_string())],
                            )));
                        }
                    }
                }
            };
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            let mut file = options
                .open(&out)
                .map_err(|e| CliError::Usage(out_file_error(&out, &e)))?;
            std::io::Write::write_all(&mut file, &bytes)?;
            file.sync_all()?;
            output::one(
                json,
                &json!({"hash": hash, "size": bytes.len(), "file": out}),
                |_| {
                    tr(
                        "cli-attachment-saved",
                        &[
                            ("hash", &hash.to_string()),
                            ("file", &out.display().to_string()),
                            ("size", &bytes.len().to_string()),
                        ],
                    )
                },
            );
        }
        AttachmentCmd::Upload { unmetered } => {
            gw.set_network_metered(!unmetered)?;
            let net = transport(gw)?;
            let report = runtime()?.block_on(gw.upload_pending(&net))?;
            output::one(json, &report, |r| {
                let mut line = tr(
                    "cli-uploaded",
                    &[
                        ("completed", &r.completed.to_string()),
                        ("bytes", &r.bytes.to_string()),
                        ("queued", &r.queued.to_string()),
                    ],
                );
                if let Some(stop) = r.stopped {
                    let state = match stop {
                        LaneStop::Paused => UploadState::Paused,
                        LaneStop::WaitingForUnmetered => UploadState::WaitingForUnmetered,
                        LaneStop::QuotaExceeded { retry_at_ms } => {
                            UploadState::QuotaExceeded { retry_at_ms }
                        }
                    };
                    line.push_str(&tr(
                        "cli-upload-stopped",
                        &[("reason", &state_words(state))],
                    ));
                }
                line
            });
        }
        AttachmentCmd::Policy { policy } => {
            let policy = match policy.as_str() {
                "any" | "any_network" => UploadPolicy::AnyNetwork,
                "unmetered" | "unmetered_only" | "wifi" => UploadPolicy::UnmeteredOnly,
                "paused" | "pause" => UploadPolicy::Paused,
                _ => return Err(CliError::Usage(tr("cli-bad-upload-policy", &[]))),
            };
            gw.set_upload_policy(policy)?;
            let stable = match policy {
                UploadPolicy::AnyNetwork => "any_network",
                UploadPolicy::UnmeteredOnly => "unmetered_only",
                UploadPolicy::Paused => "paused",
            };
            output::one(json, &json!({"policy": policy}), |_| {
                tr(
                    "cli-upload-policy-set",
                    &[("policy", &code("upload-policy", stable))],
                )
            });
        }
    }
    Ok(())
}

/// Why `--out FILE` could not be written, in words: the file and the system's reason by its
/// kind (`io-already-exists`: the file is never overwritten).
fn out_file_error(out: &Path, e: &std::io::Error) -> String {
    tr(
        "cli-out-file-failed",
        &[
            ("file", &out.display().to_string()),
            ("reason", &crate::i18n::io_reason(e)),
        ],
    )
}
