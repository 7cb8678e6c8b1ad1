//! Builders shared by the workflow tests: cases, event histories told as a story, dates.

use chrono::{NaiveDate, TimeZone};

use crate::hlc::{Hlc, Stamp};
use crate::ids::Id;
use crate::model::{Case, CaseKind, Severity};
use crate::validate::Position;
use crate::workflow::case_event::{CaseAction, CaseEvent};
use crate::workflow::case_lifecycle::{CaseFold, fold};

pub const MINUTE: u64 = 60 * 1000;
pub const HOUR: u64 = 60 * MINUTE;
pub const DAY: u64 = 24 * HOUR;

/// 2025-03-04 (a Tuesday) 09:00 in China (UTC+8), in ms since the epoch.
pub fn t0() -> u64 {
    china_ms(2025, 3, 4, 9, 0, 0)
}

/// A wall-clock time in China (UTC+8) as ms since the epoch.
pub fn china_ms(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> u64 {
    let offset = chrono::FixedOffset::east_opt(8 * 3600).unwrap();
    offset
        .with_ymd_and_hms(y, mo, d, h, mi, s)
        .unwrap()
        .timestamp_millis() as u64
}

pub fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

/// A small, readable id.
pub fn id(n: u128) -> Id {
    Id::from_u128(n)
}

pub fn pos(lat: f64, lon: f64) -> Position {
    Position::new("test", lat, lon).unwrap()
}

pub fn case(kind: CaseKind, severity: Severity, opened_at_ms: u64) -> Case {
    Case {
        id: id(0xCA5E),
        kind,
        title: format!("a {} case", kind.as_str()),
        category: "test".into(),
        severity,
        area_id: id(0xA4EA),
        building_id: None,
        household_id: None,
        position: None,
        opened_at_ms,
        patrol_id: None,
    }
}

/// A case history told step by step, each step at a given time on one phone.
#[derive(Debug, Clone)]
pub struct Story {
    pub case: Case,
    pub events: Vec<CaseEvent>,
    next_id: u128,
    device: Id,
}

impl Story {
    pub fn new(kind: CaseKind, severity: Severity, opened_at_ms: u64) -> Story {
        Story {
            case: case(kind, severity, opened_at_ms),
            events: Vec::new(),
            next_id: 1,
            device: id(0xD1),
        }
    }

    /// The same story told on another phone (a different device id breaks HLC ties).
    pub fn on_device(mut self, device: u128) -> Story {
        self.device = id(device);
        self
    }

    /// Adds a step at `at_ms`; returns the event id.
    pub fn at(&mut self, at_ms: u64, action: CaseAction) -> Id {
        // The device is part of the id, so two phones telling steps never share an event id.
        let device = self.device.as_u128() & 0xFFFF;
        let event_id = Id::from_u128((0xE << 120) | (device << 64) | self.next_id);
        self.next_id += 1;
        // Counter from the number of events already at this ms: stamps stay unique and ordered.
        let same_ms = self.events.iter().filter(|e| e.at_ms() == at_ms).count() as u16;
        self.events.push(CaseEvent {
            id: event_id,
            case_id: self.case.id,
            stamp: Stamp::new(Hlc::new(at_ms, same_ms), self.device),
            actor: None,
            action,
        });
        event_id
    }

    /// Adds a step `after_ms` after the case was opened.
    pub fn after(&mut self, after_ms: u64, action: CaseAction) -> Id {
        self.at(self.case.opened_at_ms + after_ms, action)
    }

    pub fn fold(&self) -> CaseFold {
        fold(self.case.kind, self.case.opened_at_ms, &self.events)
    }
}
