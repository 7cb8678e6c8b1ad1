//! A point on the earth (WGS-84 degrees, as a phone's GNSS reports it): where a hazard was seen,
//! where the fire crew said "arrived on scene". Checked when made and when read off the wire.
//!
//! Maps in China draw GCJ-02 coordinates; converting for display is the app's business, the core
//! keeps what the receiver measured.

use serde::{Deserialize, Serialize};

use super::ValidationError;

/// Mean earth radius (IUGG), in metres.
const EARTH_RADIUS_M: f64 = 6_371_008.8;

/// The field name used when a position arrives through serde rather than from the device.
const SERDE_FIELD: &str = "position";

/// A WGS-84 position in degrees: latitude in [-90, 90], longitude in [-180, 180].
///
/// ```
/// use gridwork_domain::validate::Position;
/// let west_lake = Position::new("case.position", 30.2460, 120.1500).unwrap();
/// assert!(Position::new("case.position", 91.0, 120.0).is_err());
/// assert_eq!(west_lake.distance_m(&west_lake), 0.0);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawPosition")]
pub struct Position {
    /// Latitude, degrees north.
    pub lat: f64,
    /// Longitude, degrees east.
    pub lon: f64,
}

/// A position as it arrives on the wire, before it is checked.
#[derive(Deserialize)]
struct RawPosition {
    lat: f64,
    lon: f64,
}

impl Position {
    /// Checks that both coordinates are finite and in range.
    pub fn new(field: &str, lat: f64, lon: f64) -> Result<Position, ValidationError> {
        let refuse = |problem: &str| Err(ValidationError::new(field, problem));
        if !lat.is_finite() || !lon.is_finite() {
            return refuse("latitude and longitude must be finite numbers");
        }
        if !(-90.0..=90.0).contains(&lat) {
            return refuse("latitude must be between -90 and 90 degrees");
        }
        if !(-180.0..=180.0).contains(&lon) {
            return refuse("longitude must be between -180 and 180 degrees");
        }
        Ok(Position { lat, lon })
    }

    /// Great-circle distance to `other` in metres (haversine on a sphere: within about 0.5% of
    /// the ellipsoid, plenty to rank fire stations or say "the crew is 600 m away").
    pub fn distance_m(&self, other: &Position) -> f64 {
        let (lat1, lat2) = (self.lat.to_radians(), other.lat.to_radians());
        let d_lat = lat2 - lat1;
        let d_lon = (other.lon - self.lon).to_radians();
        let h = (d_lat / 2.0).sin().powi(2) + lat1.cos() * lat2.cos() * (d_lon / 2.0).sin().powi(2);
        // Rounding can push h a hair above 1 for antipodal points, where asin would give NaN.
        2.0 * EARTH_RADIUS_M * h.clamp(0.0, 1.0).sqrt().asin()
    }
}

impl TryFrom<RawPosition> for Position {
    type Error = ValidationError;

    fn try_from(raw: RawPosition) -> Result<Position, ValidationError> {
        Position::new(SERDE_FIELD, raw.lat, raw.lon)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIELD: &str = "alarm.arrived_at";

    fn at(lat: f64, lon: f64) -> Position {
        Position::new(FIELD, lat, lon).unwrap()
    }

    #[test]
    fn positions_on_the_edges_of_the_map_are_accepted() {
        for (lat, lon) in [(90.0, 180.0), (-90.0, -180.0), (0.0, 0.0), (30.246, 120.15)] {
            assert_eq!(at(lat, lon), Position { lat, lon });
        }
    }

    #[test]
    fn out_of_range_and_non_finite_positions_are_refused() {
        let refuse = |lat: f64, lon: f64| {
            let err = Position::new(FIELD, lat, lon).unwrap_err();
            assert_eq!(err.field, FIELD);
            err.problem
        };
        assert!(refuse(90.0001, 120.0).contains("latitude"));
        assert!(refuse(-91.0, 120.0).contains("latitude"));
        assert!(refuse(30.0, 180.5).contains("longitude"));
        assert!(refuse(30.0, -181.0).contains("longitude"));
        let nan = refuse(f64::NAN, 120.0);
        assert!(nan.contains("finite"));
        assert_eq!(refuse(30.0, f64::INFINITY), nan);
        assert_eq!(refuse(f64::NEG_INFINITY, f64::NAN), nan);
        // A swapped pair (lon, lat) for Hangzhou is caught by the latitude range.
        assert!(refuse(120.15, 30.246).contains("latitude"));
    }

    #[test]
    fn west_lake_to_hangzhou_east_station_is_about_7_8_km() {
        let west_lake = at(30.2460, 120.1500);
        let east_station = at(30.2900, 120.2130);
        // 7780.98 m by an independent haversine computation with the same radius.
        let d = west_lake.distance_m(&east_station);
        assert!((d - 7781.0).abs() < 1.0, "{d}");
        assert_eq!(d, east_station.distance_m(&west_lake));
        assert_eq!(west_lake.distance_m(&west_lake), 0.0);
    }

    #[test]
    fn distances_across_the_dateline_and_to_the_antipode_are_sane() {
        let d = at(0.0, 179.9).distance_m(&at(0.0, -179.9));
        assert!(
            (d - 22_239.0).abs() < 1.0,
            "0.2 degrees of equator, not 359.8: {d}"
        );
        let half_way_round = std::f64::consts::PI * EARTH_RADIUS_M;
        let d = at(90.0, 0.0).distance_m(&at(-90.0, 0.0));
        assert!((d - half_way_round).abs() < 1e-3, "{d}");
        let d = at(0.0, 0.0).distance_m(&at(0.0, 180.0));
        assert!(!d.is_nan() && (d - half_way_round).abs() < 1e-3, "{d}");
    }

    #[test]
    fn serde_round_trips_and_refuses_a_bad_position_on_the_wire() {
        let p = at(30.29, 120.213);
        let json = serde_json::to_string(&p).unwrap();
        assert_eq!(json, r#"{"lat":30.29,"lon":120.213}"#);
        assert_eq!(serde_json::from_str::<Position>(&json).unwrap(), p);

        let err = serde_json::from_str::<Position>(r#"{"lat":120.213,"lon":30.29}"#).unwrap_err();
        assert!(err.to_string().contains("latitude"), "{err}");
        assert!(
            serde_json::from_str::<Position>(r#"{"lat":30.29}"#).is_err(),
            "lon missing"
        );
    }
}
