//! A photo as the phone keeps and sends it: its metadata stripped, what the record keeps read
//! out first, and a small thumbnail (ADR 0042).
//!
//! - Only JPEG and PNG are taken (what phone cameras and screenshots produce).
//! - The time and the position are read from the EXIF (`DateTimeOriginal` with its offset,
//!   China Standard Time when the camera wrote none; `GPSLatitude`/`GPSLongitude`) into the
//!   reference; then every metadata segment is dropped without re-encoding the picture: JPEG's
//!   APP1–APP13 and APP15 (EXIF, XMP, MPF and its second pictures, maker data) and comments,
//!   keeping JFIF (APP0), the colour profile (APP2 `ICC_PROFILE`) and Adobe's colour transform
//!   (APP14), and anything after the picture's end; PNG's `eXIf`, text and time chunks.
//! - The one EXIF value kept is the orientation, in a minimal EXIF of its own, so the picture
//!   still shows upright; it says nothing about who, where or with what.
//! - The thumbnail is at most [`THUMBNAIL_EDGE`] px on its long side, upright, a JPEG.

use std::io::Cursor;

use exif::{In, Tag, Value};
use gridwork_domain::validate::ValidationError;
use gridwork_domain::validate::position::Position;
use image::ImageDecoder;
use img_parts::jpeg::{Jpeg, markers};
use img_parts::png::Png;
use img_parts::{Bytes, ImageEXIF};

use crate::error::{Error, Result};

/// The longest side of a thumbnail, in pixels.
pub const THUMBNAIL_EDGE: u32 = 320;

/// The largest photo taken, in bytes (the server's default per-blob limit is 32 MiB).
pub const MAX_PHOTO_BYTES: usize = 32 * 1024 * 1024;

/// China Standard Time, for camera times written without an offset (minutes east of UTC).
const CST_OFFSET_MIN: i64 = 8 * 60;

/// A photo ready to store: the picture without its metadata, its thumbnail, and what the
/// record keeps of the metadata.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub picture: Vec<u8>,
    pub media_type: &'static str,
    pub thumbnail: Vec<u8>,
    pub taken_at_ms: Option<u64>,
    pub position: Option<Position>,
}

fn refuse(message: &str) -> Error {
    ValidationError::new("photo", message).into()
}

/// Strips, reads and thumbnails the photo in `bytes`.
pub fn prepare(bytes: &[u8]) -> Result<Prepared> {
    if bytes.is_empty() {
        return Err(refuse("is empty"));
    }
    if bytes.len() > MAX_PHOTO_BYTES {
        return Err(refuse("must be at most 32 MiB"));
    }
    let meta = read_metadata(bytes);
    let (picture, media_type) = if bytes.starts_with(&[0xFF, 0xD8]) {
        (strip_jpeg(bytes, meta.orientation)?, "image/jpeg")
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        (strip_png(bytes)?, "image/png")
    } else {
        return Err(refuse("must be a JPEG or PNG picture"));
    };
    let thumbnail = thumbnail(&picture, meta.orientation)?;
    Ok(Prepared {
        picture,
        media_type,
        thumbnail,
        taken_at_ms: meta.taken_at_ms,
        position: meta.position,
    })
}

#[derive(Debug, Default)]
struct Metadata {
    taken_at_ms: Option<u64>,
    position: Option<Position>,
    orientation: Option<u16>,
}

/// What the record keeps, read from the EXIF; nothing when there is none or it does not read.
fn read_metadata(bytes: &[u8]) -> Metadata {
    let Ok(exif) = exif::Reader::new().read_from_container(&mut Cursor::new(bytes)) else {
        return Metadata::default();
    };
    let ascii = |tag| match exif.get_field(tag, In::PRIMARY).map(|f| &f.value) {
        Some(Value::Ascii(v)) => v.first().cloned(),
        _ => None,
    };
    let taken_at_ms = ascii(Tag::DateTimeOriginal)
        .or_else(|| ascii(Tag::DateTime))
        .and_then(|text| {
            let mut dt = exif::DateTime::from_ascii(&text).ok()?;
            if let Some(off) = ascii(Tag::OffsetTimeOriginal).or_else(|| ascii(Tag::OffsetTime)) {
                let _ = dt.parse_offset(&off);
            }
            let date = chrono::NaiveDate::from_ymd_opt(
                i32::from(dt.year),
                u32::from(dt.month),
                u32::from(dt.day),
            )?;
            let local = date.and_hms_opt(
                u32::from(dt.hour),
                u32::from(dt.minute),
                u32::from(dt.second),
            )?;
            let offset_min = dt.offset.map_or(CST_OFFSET_MIN, i64::from);
            let ms = local.and_utc().timestamp_millis() - offset_min * 60_000
                + i64::from(dt.nanosecond.unwrap_or(0) / 1_000_000);
            u64::try_from(ms).ok()
        });
    let coordinate = |value: Tag, reference: Tag, negative: u8| -> Option<f64> {
        let Value::Rational(parts) = &exif.get_field(value, In::PRIMARY)?.value else {
            return None;
        };
        let [d, m, s] = parts.as_slice() else {
            return None;
        };
        let deg = d.to_f64() + m.to_f64() / 60.0 + s.to_f64() / 3600.0;
        let sign = match ascii(reference) {
            Some(r) if r.first() == Some(&negative) => -1.0,
            _ => 1.0,
        };
        Some(sign * deg).filter(|v| v.is_finite())
    };
    let position = match (
        coordinate(Tag::GPSLatitude, Tag::GPSLatitudeRef, b'S'),
        coordinate(Tag::GPSLongitude, Tag::GPSLongitudeRef, b'W'),
    ) {
        (Some(lat), Some(lon)) => Position::new("photo.position", lat, lon).ok(),
        _ => None,
    };
    let orientation = exif
        .get_field(Tag::Orientation, In::PRIMARY)
        .and_then(|f| f.value.get_uint(0))
        .and_then(|o| u16::try_from(o).ok())
        .filter(|o| (2..=8).contains(o));
    Metadata {
        taken_at_ms,
        position,
        orientation,
    }
}

/// The JPEG without its metadata segments and without anything after its end, with a minimal
/// EXIF holding only the orientation when the camera wrote one that is not "upright".
fn strip_jpeg(bytes: &[u8], orientation: Option<u16>) -> Result<Vec<u8>> {
    let mut jpeg = Jpeg::from_bytes(Bytes::copy_from_slice(bytes))
        .map_err(|_| refuse("is not a readable JPEG picture"))?;
    jpeg.segments_mut().retain(|s| {
        let m = s.marker();
        let is_app = (markers::APP0..=markers::APP15).contains(&m);
        let keep_app = m == markers::APP0
            || m == markers::APP14
            || (m == markers::APP2 && s.contents().starts_with(b"ICC_PROFILE\0"));
        (!is_app || keep_app) && m != markers::COM
    });
    if let Some(o) = orientation {
        jpeg.set_exif(Some(orientation_exif(o)?.into()));
    }
    let mut out = jpeg.encoder().bytes().to_vec();
    // The first scan holds the rest of the file: cut it after the picture's end marker (a
    // second picture of an MPF file, a maker's trailer). In entropy-coded data 0xFF is always
    // followed by 0x00 or a restart marker, so the first FF D9 after the first scan is the end.
    let sos = out
        .windows(2)
        .position(|w| w == [0xFF, markers::SOS])
        .ok_or_else(|| refuse("is not a readable JPEG picture"))?;
    if let Some(end) = out[sos..]
        .windows(2)
        .position(|w| w == [0xFF, markers::EOI])
    {
        out.truncate(sos + end + 2);
    }
    Ok(out)
}

/// A minimal EXIF (TIFF, little-endian) with the orientation alone.
fn orientation_exif(orientation: u16) -> Result<Vec<u8>> {
    let field = exif::Field {
        tag: Tag::Orientation,
        ifd_num: In::PRIMARY,
        value: Value::Short(vec![orientation]),
    };
    let mut writer = exif::experimental::Writer::new();
    writer.push_field(&field);
    let mut out = Cursor::new(Vec::new());
    writer
        .write(&mut out, true)
        .map_err(|_| refuse("orientation could not be kept"))?;
    Ok(out.into_inner())
}

/// The PNG without its metadata chunks.
fn strip_png(bytes: &[u8]) -> Result<Vec<u8>> {
    let mut png = Png::from_bytes(Bytes::copy_from_slice(bytes))
        .map_err(|_| refuse("is not a readable PNG picture"))?;
    png.chunks_mut()
        .retain(|c| !matches!(&c.kind(), b"eXIf" | b"tEXt" | b"zTXt" | b"iTXt" | b"tIME"));
    Ok(png.encoder().bytes().to_vec())
}

/// A JPEG at most [`THUMBNAIL_EDGE`] px on its long side, turned upright.
fn thumbnail(picture: &[u8], orientation: Option<u16>) -> Result<Vec<u8>> {
    let unreadable = || refuse("could not be decoded as a picture");
    let reader = image::ImageReader::new(Cursor::new(picture))
        .with_guessed_format()
        .map_err(|_| unreadable())?;
    let decoder = reader.into_decoder().map_err(|_| unreadable())?;
    let (w, h) = decoder.dimensions();
    if w == 0 || h == 0 {
        return Err(unreadable());
    }
    let full = image::DynamicImage::from_decoder(decoder).map_err(|_| unreadable())?;
    let mut small = if w.max(h) > THUMBNAIL_EDGE {
        full.thumbnail(THUMBNAIL_EDGE, THUMBNAIL_EDGE)
    } else {
        full
    };
    if let Some(o) = orientation.and_then(|o| image::metadata::Orientation::from_exif(o as u8)) {
        small.apply_orientation(o);
    }
    let rgb = small.to_rgb8();
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 75)
        .encode_image(&rgb)
        .map_err(|_| refuse("thumbnail could not be made"))?;
    Ok(out)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use exif::{Field, Rational};

    /// A JPEG of `w`×`h` px (a gradient) with an EXIF that carries a GPS position, a camera
    /// serial number, a maker, a time with its offset and an orientation; and a comment.
    pub(crate) fn camera_jpeg(w: u32, h: u32) -> Vec<u8> {
        let img = image::RgbImage::from_fn(w, h, |x, y| {
            image::Rgb([(x % 256) as u8, (y % 256) as u8, ((x + y) % 256) as u8])
        });
        let mut plain = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut plain, 90)
            .encode_image(&img)
            .unwrap();
        let r = |num, denom| Rational { num, denom };
        let fields = [
            Field {
                tag: Tag::Make,
                ifd_num: In::PRIMARY,
                value: Value::Ascii(vec![b"SNOOPCAM".to_vec()]),
            },
            Field {
                tag: Tag::Orientation,
                ifd_num: In::PRIMARY,
                value: Value::Short(vec![6]),
            },
            Field {
                tag: Tag::BodySerialNumber,
                ifd_num: In::PRIMARY,
                value: Value::Ascii(vec![b"SERIAL-8675309".to_vec()]),
            },
            Field {
                tag: Tag::DateTimeOriginal,
                ifd_num: In::PRIMARY,
                value: Value::Ascii(vec![b"2026:05:04 09:30:15".to_vec()]),
            },
            Field {
                tag: Tag::OffsetTimeOriginal,
                ifd_num: In::PRIMARY,
                value: Value::Ascii(vec![b"+08:00".to_vec()]),
            },
            Field {
                tag: Tag::GPSLatitudeRef,
                ifd_num: In::PRIMARY,
                value: Value::Ascii(vec![b"N".to_vec()]),
            },
            Field {
                tag: Tag::GPSLatitude,
                ifd_num: In::PRIMARY,
                value: Value::Rational(vec![r(30, 1), r(15, 1), r(36, 1)]),
            },
            Field {
                tag: Tag::GPSLongitudeRef,
                ifd_num: In::PRIMARY,
                value: Value::Ascii(vec![b"E".to_vec()]),
            },
            Field {
                tag: Tag::GPSLongitude,
                ifd_num: In::PRIMARY,
                value: Value::Rational(vec![r(120, 1), r(9, 1), r(0, 1)]),
            },
        ];
        let mut writer = exif::experimental::Writer::new();
        for f in &fields {
            writer.push_field(f);
        }
        let mut tiff = Cursor::new(Vec::new());
        writer.write(&mut tiff, false).unwrap();
        let mut jpeg = Jpeg::from_bytes(Bytes::from(plain)).unwrap();
        jpeg.set_exif(Some(tiff.into_inner().into()));
        let com = img_parts::jpeg::JpegSegment::new_with_contents(
            markers::COM,
            Bytes::from_static(b"owner: SERIAL-8675309"),
        );
        jpeg.segments_mut().insert(1, com);
        jpeg.encoder().bytes().to_vec()
    }

    fn contains(hay: &[u8], needle: &[u8]) -> bool {
        hay.windows(needle.len()).any(|w| w == needle)
    }

    #[test]
    fn exif_is_stripped_but_time_position_and_orientation_are_kept() {
        let original = camera_jpeg(640, 480);
        assert!(contains(&original, b"SERIAL-8675309"));
        assert!(contains(&original, b"SNOOPCAM"));
        let p = prepare(&original).unwrap();
        assert_eq!(p.media_type, "image/jpeg");
        for secret in [&b"SERIAL-8675309"[..], b"SNOOPCAM", b"owner"] {
            assert!(!contains(&p.picture, secret));
        }
        // 2026-05-04 09:30:15 +08:00 = 01:30:15 UTC.
        let want = chrono::DateTime::parse_from_rfc3339("2026-05-04T01:30:15Z").unwrap();
        assert_eq!(p.taken_at_ms, Some(want.timestamp_millis() as u64));
        let pos = p.position.unwrap();
        assert!((pos.lat - 30.26).abs() < 1e-9, "{}", pos.lat);
        assert!((pos.lon - 120.15).abs() < 1e-9, "{}", pos.lon);
        // What is left of the EXIF: the orientation, nothing else (no GPS, no serial).
        let left = exif::Reader::new()
            .read_from_container(&mut Cursor::new(&p.picture))
            .unwrap();
        let tags: Vec<Tag> = left.fields().map(|f| f.tag).collect();
        assert_eq!(tags, vec![Tag::Orientation]);
        // The picture is the same picture: it decodes to the same pixels as the original.
        let a = image::load_from_memory(&original).unwrap().to_rgb8();
        let b = image::load_from_memory(&p.picture).unwrap().to_rgb8();
        assert_eq!(a.dimensions(), b.dimensions());
        assert_eq!(a.as_raw(), b.as_raw());
        // The thumbnail: upright (orientation 6 turns 640×480 into portrait), ≤ 320 px.
        let t = image::load_from_memory(&p.thumbnail).unwrap();
        assert_eq!((t.width(), t.height()), (240, 320));
        assert!(!contains(&p.thumbnail, b"SERIAL-8675309"));
    }

    #[test]
    fn a_png_loses_its_text_chunks_and_other_formats_are_refused() {
        let img = image::RgbImage::from_pixel(50, 20, image::Rgb([1, 2, 3]));
        let mut png = Vec::new();
        img.write_to(&mut Cursor::new(&mut png), image::ImageFormat::Png)
            .unwrap();
        let mut parsed = Png::from_bytes(Bytes::from(png)).unwrap();
        let at = parsed.chunks().len() - 1;
        parsed.chunks_mut().insert(
            at,
            img_parts::png::PngChunk::new(*b"tEXt", Bytes::from_static(b"Author\0Wang Fang")),
        );
        let png = parsed.encoder().bytes().to_vec();
        let p = prepare(&png).unwrap();
        assert_eq!(p.media_type, "image/png");
        assert!(!contains(&p.picture, b"Wang Fang"));
        assert_eq!(p.taken_at_ms, None);
        let t = image::load_from_memory(&p.thumbnail).unwrap();
        assert_eq!((t.width(), t.height()), (50, 20));

        for bad in [&b""[..], b"GIF89a....", b"\xFF\xD8\xFF\xE0garbage"] {
            let err = prepare(bad).unwrap_err();
            assert!(
                matches!(&err, Error::Invalid(v) if v.field == "photo"),
                "{err}"
            );
        }
    }
}
