//! The [`Entity`] trait: what every synced record type shares (its kind, id, parent and the
//! checks made at the edge before it is written).

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::ids::Id;
use crate::model::{
    Area, AreaLevel, Building, Case, Household, Patrol, PatrolVisit, Registration, Resident,
    Station,
};
use crate::op::EntityKind;
use crate::validate::{AddressCode, Phone, ResidentId, ValidationError, address_code};

/// A record type that is stored, synced and merged field by field.
pub trait Entity: Serialize + DeserializeOwned + Clone + std::fmt::Debug {
    /// Its kind on the wire and in storage.
    const KIND: EntityKind;
    /// Its id.
    fn id(&self) -> Id;
    /// Replaces its id (used when the caller leaves it nil at creation).
    fn set_id(&mut self, id: Id);
    /// Checks every field and rewrites it to its normal form (e.g. `+86 138 0000 0000` →
    /// `13800000000`), or names the first field that is wrong.
    fn normalize(&mut self) -> Result<(), ValidationError>;
}

fn not_blank(field: &str, value: &str) -> Result<(), ValidationError> {
    if value.trim().is_empty() {
        return Err(ValidationError::new(field, "must not be empty"));
    }
    Ok(())
}

fn normalize_phone(field: &str, phone: &mut Option<String>) -> Result<(), ValidationError> {
    if let Some(p) = phone.as_mut() {
        if p.trim().is_empty() {
            *phone = None;
        } else {
            *p = Phone::parse(field, p)?.as_str().to_string();
        }
    }
    Ok(())
}

macro_rules! entity_ids {
    ($t:ty, $kind:expr) => {
        const KIND: EntityKind = $kind;
        fn id(&self) -> Id {
            self.id
        }
        fn set_id(&mut self, id: Id) {
            self.id = id;
        }
    };
}

impl Entity for Area {
    entity_ids!(Area, EntityKind::Area);
    fn normalize(&mut self) -> Result<(), ValidationError> {
        not_blank("area.name", &self.name)?;
        address_code::check_area_code("area.code", self.level, &self.code)?;
        if self.level.parent_level().is_some() && self.parent_id.is_none() {
            return Err(ValidationError::new(
                "area.parent_id",
                "only a district has no parent",
            ));
        }
        if !self.response_policies.is_empty() && self.level != AreaLevel::Subdistrict {
            return Err(ValidationError::new(
                "area.response_policies",
                "only a subdistrict sets a response policy",
            ));
        }
        crate::workflow::response_policy::check_history(&self.response_policies)
    }
}

impl Entity for Building {
    entity_ids!(Building, EntityKind::Building);
    fn normalize(&mut self) -> Result<(), ValidationError> {
        self.address_code = AddressCode::parse("building.address_code", &self.address_code)?
            .as_str()
            .to_string();
        not_blank("building.address", &self.address)
    }
}

impl Entity for Station {
    entity_ids!(Station, EntityKind::Station);
    fn normalize(&mut self) -> Result<(), ValidationError> {
        not_blank("station.name", &self.name)?;
        normalize_phone("station.phone", &mut self.phone)
    }
}

impl Entity for Household {
    entity_ids!(Household, EntityKind::Household);
    fn normalize(&mut self) -> Result<(), ValidationError> {
        not_blank("household.unit", &self.unit)?;
        normalize_phone("household.phone", &mut self.phone)
    }
}

impl Entity for Resident {
    entity_ids!(Resident, EntityKind::Resident);
    fn normalize(&mut self) -> Result<(), ValidationError> {
        not_blank("resident.name", &self.name)?;
        if let Some(n) = self.id_number.as_mut() {
            *n = ResidentId::parse("resident.id_number", n)?
                .as_str()
                .to_string();
        }
        normalize_phone("resident.phone", &mut self.phone)?;
        self.key_groups.sort();
        self.key_groups.dedup();
        Ok(())
    }
}

impl Entity for Registration {
    entity_ids!(Registration, EntityKind::Registration);
    fn normalize(&mut self) -> Result<(), ValidationError> {
        if let Some(end) = self.expected_end
            && end < self.check_in
        {
            return Err(ValidationError::new(
                "registration.expected_end",
                "the expected end of the stay is before the check-in day",
            ));
        }
        if let Some(out) = self.check_out
            && out < self.check_in
        {
            return Err(ValidationError::new(
                "registration.check_out",
                "the check-out day is before the check-in day",
            ));
        }
        Ok(())
    }
}

impl Entity for Case {
    entity_ids!(Case, EntityKind::Case);
    fn normalize(&mut self) -> Result<(), ValidationError> {
        not_blank("case.title", &self.title)?;
        not_blank("case.category", &self.category)
    }
}

impl Entity for Patrol {
    entity_ids!(Patrol, EntityKind::Patrol);
    fn normalize(&mut self) -> Result<(), ValidationError> {
        if let Some(end) = self.ended_at_ms
            && end < self.started_at_ms
        {
            return Err(ValidationError::new(
                "patrol.ended_at_ms",
                "a patrol cannot end before it starts",
            ));
        }
        Ok(())
    }
}

impl Entity for PatrolVisit {
    entity_ids!(PatrolVisit, EntityKind::PatrolVisit);
    fn normalize(&mut self) -> Result<(), ValidationError> {
        Ok(())
    }
}
