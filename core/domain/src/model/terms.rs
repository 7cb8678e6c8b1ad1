//! The words an office uses for the product's fixed values: every enumerated value has a
//! stable code (`rental`, what storage, the wire and the bindings carry) and the Chinese term a
//! subdistrict office writes (`出租`). [`Term::from_term`] accepts either, so a command line or
//! an imported spreadsheet may use the one its people know; what is stored is always the code.
//!
//! ```
//! use gridwork_domain::model::{HouseholdKind, Term};
//!
//! assert_eq!(HouseholdKind::from_term("出租"), Some(HouseholdKind::Rental));
//! assert_eq!(HouseholdKind::from_term("rental"), Some(HouseholdKind::Rental));
//! assert_eq!(HouseholdKind::Rental.zh(), "出租");
//! ```

use crate::model::{AreaLevel, BuildingKind, CaseKind, HouseholdKind, KeyGroup, Severity};
use crate::sync::Role;
use crate::workflow::DefenceLevel;

/// A fixed value with a stable code and Chinese terms.
pub trait Term: Copy + Sized + 'static {
    /// Every value, in their usual order.
    fn all() -> &'static [Self];
    /// The stable code (storage, wire, bindings).
    fn code(self) -> &'static str;
    /// The Chinese terms: the first is the one shown, the others are also accepted.
    fn zh_terms(self) -> &'static [&'static str];

    /// The Chinese term shown for this value.
    fn zh(self) -> &'static str {
        self.zh_terms()[0]
    }

    /// The value named by its code or one of its Chinese terms (surrounding blanks ignored;
    /// codes also with `-` for `_` and in any case).
    fn from_term(s: &str) -> Option<Self> {
        let s = s.trim();
        let code = s.to_ascii_lowercase().replace('-', "_");
        Self::all()
            .iter()
            .copied()
            .find(|v| v.code() == code || v.zh_terms().contains(&s))
    }

    /// The accepted values for a message: `rental (出租), ...`.
    fn choices() -> String {
        Self::all()
            .iter()
            .map(|v| format!("{} ({})", v.code(), v.zh()))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

macro_rules! terms {
    ($t:ty, $all:expr, { $($v:path => [$($zh:literal),+]),+ $(,)? }) => {
        impl Term for $t {
            fn all() -> &'static [Self] {
                &$all
            }
            fn code(self) -> &'static str {
                self.as_str()
            }
            fn zh_terms(self) -> &'static [&'static str] {
                match self {
                    $($v => &[$($zh),+],)+
                }
            }
        }
    };
}

terms!(AreaLevel, AreaLevel::ALL, {
    AreaLevel::District => ["区", "区县", "县"],
    AreaLevel::Subdistrict => ["街道", "镇", "乡镇"],
    AreaLevel::GridLayer => ["网层"],
    AreaLevel::Community => ["社区", "村"],
    AreaLevel::Grid => ["网格"],
    AreaLevel::MicroGrid => ["微网格"],
});

terms!(BuildingKind, BuildingKind::ALL, {
    BuildingKind::Residential => ["住宅"],
    BuildingKind::Rental => ["出租", "出租房", "出租楼"],
    BuildingKind::MixedUse => ["商住", "混合"],
    BuildingKind::Factory => ["厂房", "工厂"],
    BuildingKind::Shop => ["商铺", "沿街商铺"],
    BuildingKind::Public => ["公共", "公共建筑"],
});

terms!(HouseholdKind, HouseholdKind::ALL, {
    HouseholdKind::OwnerOccupied => ["自住"],
    HouseholdKind::Rental => ["出租"],
    HouseholdKind::GroupRental => ["群租"],
    HouseholdKind::Vacant => ["空置", "空房"],
});

terms!(KeyGroup, KeyGroup::ALL, {
    KeyGroup::ElderlyLivingAlone => ["独居老人"],
    KeyGroup::LeftBehindChild => ["留守儿童"],
    KeyGroup::Disabled => ["残疾人"],
});

terms!(Severity, Severity::ALL, {
    Severity::Low => ["低", "一般"],
    Severity::Medium => ["中", "较大"],
    Severity::High => ["高", "重大"],
    Severity::Critical => ["紧急", "特别重大"],
});

terms!(CaseKind, CaseKind::ALL, {
    CaseKind::Hazard => ["隐患"],
    CaseKind::Dispute => ["矛盾纠纷", "纠纷"],
    CaseKind::Alarm => ["火警", "警情"],
    CaseKind::Hotline => ["12345", "热线"],
    CaseKind::PatrolFinding => ["巡查发现"],
    CaseKind::Incident => ["事件"],
});

terms!(Role, Role::ALL, {
    Role::Gridworker => ["网格员"],
    Role::BuildingHead => ["楼长"],
    Role::FireCrew => ["消防队员", "微型消防站", "微消站队员"],
    Role::Dispatcher => ["调度员", "指挥中心"],
    Role::Mediator => ["调解员"],
    Role::Admin => ["管理员"],
});

terms!(DefenceLevel, DefenceLevel::ALL, {
    DefenceLevel::MicroGridLeader => ["微网格长", "村民小组长"],
    DefenceLevel::Gridworker => ["网格员", "村干部"],
    DefenceLevel::VillageSecretary => ["村书记", "社区书记"],
    DefenceLevel::SubdistrictMediationCentre => ["街道调解中心"],
});

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trips<T: Term + PartialEq + std::fmt::Debug>() {
        for v in T::all() {
            assert_eq!(T::from_term(v.code()), Some(*v), "{}", v.code());
            for zh in v.zh_terms() {
                assert_eq!(T::from_term(zh), Some(*v), "{zh}");
            }
        }
    }

    #[test]
    fn every_value_is_named_by_its_code_and_each_chinese_term() {
        round_trips::<AreaLevel>();
        round_trips::<BuildingKind>();
        round_trips::<HouseholdKind>();
        round_trips::<KeyGroup>();
        round_trips::<Severity>();
        round_trips::<CaseKind>();
        round_trips::<Role>();
        round_trips::<DefenceLevel>();
    }

    #[test]
    fn a_chinese_term_names_one_value_of_its_kind() {
        fn unique<T: Term + PartialEq>() {
            let mut seen = std::collections::HashSet::new();
            for v in T::all() {
                for zh in v.zh_terms() {
                    assert!(seen.insert(*zh), "{zh} names two values");
                }
            }
        }
        unique::<AreaLevel>();
        unique::<BuildingKind>();
        unique::<HouseholdKind>();
        unique::<KeyGroup>();
        unique::<Severity>();
        unique::<CaseKind>();
        unique::<Role>();
        unique::<DefenceLevel>();
    }

    #[test]
    fn codes_are_read_forgivingly_and_unknown_words_are_refused() {
        assert_eq!(
            HouseholdKind::from_term(" Group-Rental "),
            Some(HouseholdKind::GroupRental)
        );
        assert_eq!(Role::from_term("楼长"), Some(Role::BuildingHead));
        assert_eq!(BuildingKind::from_term("别墅"), None);
        assert!(HouseholdKind::choices().contains("rental (出租)"));
    }
}
