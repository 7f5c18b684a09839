//! Dates and times as the site's people read and type them: in the site's time zone
//! (`[site] timezone`), a fixed offset from UTC such as `+01:00` or an IANA zone such as
//! `America/Los_Angeles`, whose offset follows daylight saving time.

use std::fmt;

use time::{Date, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

/// The site's time zone: dates shown, `/YYYY/MM/DD/` permalinks and date archives use it, as
/// WordPress does with its own time zone setting.
#[derive(Clone)]
pub enum SiteZone {
    Fixed(UtcOffset),
    Named {
        name: String,
        rules: jiff::tz::TimeZone,
    },
}

impl SiteZone {
    pub const UTC: SiteZone = SiteZone::Fixed(UtcOffset::UTC);

    /// `+01:00`, `UTC`, or an IANA name from the database built into Folio.
    pub fn parse(raw: &str) -> Option<Self> {
        let raw = raw.trim();
        if let Some(offset) = parse_utc_offset(raw) {
            return Some(SiteZone::Fixed(offset));
        }
        // Names have a slash (`Europe/Paris`) or are a few known single words; paths and
        // relative names have no business here.
        if raw.is_empty() || raw.starts_with('/') || raw.contains("..") {
            return None;
        }
        let rules = jiff::tz::TimeZone::get(raw).ok()?;
        Some(SiteZone::Named {
            name: raw.to_owned(),
            rules,
        })
    }

    /// The zone's offset from UTC at the instant `at` (summer or winter time).
    pub fn offset_at(&self, at: OffsetDateTime) -> UtcOffset {
        match self {
            SiteZone::Fixed(offset) => *offset,
            SiteZone::Named { rules, .. } => jiff::Timestamp::from_second(at.unix_timestamp())
                .ok()
                .and_then(|instant| {
                    UtcOffset::from_whole_seconds(rules.to_offset(instant).seconds()).ok()
                })
                .unwrap_or(UtcOffset::UTC),
        }
    }

    /// The same instant, as a clock in the site's zone shows it.
    pub fn local(&self, at: OffsetDateTime) -> OffsetDateTime {
        at.to_offset(self.offset_at(at))
    }

    /// The instant a clock in the site's zone shows `local`. A time skipped when clocks go
    /// forward is read as if they had not yet moved, and a time repeated when they go back is
    /// its first occurrence, as WordPress and most calendars read them.
    pub fn instant(&self, local: PrimitiveDateTime) -> Option<OffsetDateTime> {
        match self {
            SiteZone::Fixed(offset) => Some(local.assume_offset(*offset)),
            SiteZone::Named { rules, .. } => {
                let civil = jiff::civil::DateTime::new(
                    i16::try_from(local.year()).ok()?,
                    i8::try_from(u8::from(local.month())).ok()?,
                    i8::try_from(local.day()).ok()?,
                    i8::try_from(local.hour()).ok()?,
                    i8::try_from(local.minute()).ok()?,
                    i8::try_from(local.second()).ok()?,
                    0,
                )
                .ok()?;
                let instant = rules.to_ambiguous_timestamp(civil).compatible().ok()?;
                let at = OffsetDateTime::from_unix_timestamp(instant.as_second()).ok()?;
                Some(self.local(at))
            }
        }
    }

    /// When `day` begins in the site's zone: where a date archive starts.
    pub fn start_of(&self, day: Date) -> Option<OffsetDateTime> {
        self.instant(day.with_time(Time::MIDNIGHT))
    }

    /// How configuration and the admin name it: `Europe/Paris`, `+01:00`.
    pub fn label(&self) -> String {
        match self {
            SiteZone::Named { name, .. } => name.clone(),
            SiteZone::Fixed(offset) => {
                let (hours, minutes, _) = offset.as_hms();
                let sign = if offset.is_negative() { '-' } else { '+' };
                format!(
                    "{sign}{:02}:{:02}",
                    hours.unsigned_abs(),
                    minutes.unsigned_abs()
                )
            }
        }
    }
}

impl fmt::Debug for SiteZone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SiteZone({})", self.label())
    }
}

impl PartialEq for SiteZone {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (SiteZone::Fixed(a), SiteZone::Fixed(b)) => a == b,
            (SiteZone::Named { name: a, .. }, SiteZone::Named { name: b, .. }) => a == b,
            _ => false,
        }
    }
}

impl Default for SiteZone {
    fn default() -> Self {
        SiteZone::UTC
    }
}

/// `+01:00`, `-05:30`, `+00:00` (also `Z` and `UTC`).
pub fn parse_utc_offset(raw: &str) -> Option<UtcOffset> {
    let raw = raw.trim();
    if raw.eq_ignore_ascii_case("z") || raw.eq_ignore_ascii_case("utc") {
        return Some(UtcOffset::UTC);
    }
    let (sign, rest) = match raw.as_bytes().first()? {
        b'+' => (1, &raw[1..]),
        b'-' => (-1, &raw[1..]),
        _ => return None,
    };
    let (hours, minutes) = rest.split_once(':')?;
    if hours.len() != 2 || minutes.len() != 2 {
        return None;
    }
    let hours: i8 = hours.parse().ok()?;
    let minutes: i8 = minutes.parse().ok()?;
    if hours > 14 || minutes > 59 {
        return None;
    }
    UtcOffset::from_hms(sign * hours, sign * minutes, 0).ok()
}

/// What an `<input type="datetime-local">` sends (`2026-11-28T09:00`, seconds optional),
/// read in the site's time zone.
pub fn parse_local_datetime(raw: &str, zone: &SiteZone) -> Option<OffsetDateTime> {
    let raw = raw.trim();
    let with_seconds = match raw.len() {
        16 => format!("{raw}:00"),
        19 => raw.to_owned(),
        _ => return None,
    };
    let format = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
    let local = PrimitiveDateTime::parse(&with_seconds, format).ok()?;
    zone.instant(local)
}

/// The value an `<input type="datetime-local">` shows for `at` in the site's time zone.
pub fn local_datetime_input(at: OffsetDateTime, zone: &SiteZone) -> String {
    let local = zone.local(at);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}",
        local.year(),
        u8::from(local.month()),
        local.day(),
        local.hour(),
        local.minute()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn offsets_are_read_with_their_sign() {
        assert_eq!(
            parse_utc_offset("+01:00"),
            UtcOffset::from_hms(1, 0, 0).ok()
        );
        assert_eq!(
            parse_utc_offset("-05:30"),
            UtcOffset::from_hms(-5, -30, 0).ok()
        );
        assert_eq!(parse_utc_offset("+00:00"), Some(UtcOffset::UTC));
        assert_eq!(parse_utc_offset("Europe/Paris"), None);
        assert_eq!(parse_utc_offset("+1"), None);
    }

    #[test]
    fn nine_in_the_morning_in_paris_winter_is_eight_utc() {
        let zone = SiteZone::parse("+01:00").unwrap();
        let at = parse_local_datetime("2026-11-28T09:00", &zone).unwrap();
        assert_eq!(at, datetime!(2026-11-28 08:00 UTC));
        assert_eq!(local_datetime_input(at, &zone), "2026-11-28T09:00");
        assert_eq!(parse_local_datetime("tomorrow", &zone), None);
        assert_eq!(zone.label(), "+01:00");
        assert_eq!(SiteZone::parse("-05:30").unwrap().label(), "-05:30");
    }

    #[test]
    fn named_zones_follow_daylight_saving_time() {
        let zone = SiteZone::parse("America/Los_Angeles").unwrap();
        assert_eq!(zone.label(), "America/Los_Angeles");
        // Summer: UTC-7; winter: UTC-8.
        assert_eq!(
            zone.offset_at(datetime!(2026-07-01 12:00 UTC)),
            UtcOffset::from_hms(-7, 0, 0).unwrap()
        );
        assert_eq!(
            zone.offset_at(datetime!(2026-12-01 12:00 UTC)),
            UtcOffset::from_hms(-8, 0, 0).unwrap()
        );
        // Nine in the evening in Los Angeles is already the next day in UTC.
        let evening = parse_local_datetime("2026-07-04T21:00", &zone).unwrap();
        assert_eq!(evening, datetime!(2026-07-05 04:00 UTC));
        assert_eq!(zone.local(evening).day(), 4);
        assert_eq!(local_datetime_input(evening, &zone), "2026-07-04T21:00");
        let winter = parse_local_datetime("2026-12-04T21:00", &zone).unwrap();
        assert_eq!(winter, datetime!(2026-12-05 05:00 UTC));
        // 02:30 on the morning clocks go forward does not exist: read as before the change.
        let skipped = parse_local_datetime("2026-03-08T02:30", &zone).unwrap();
        assert_eq!(skipped, datetime!(2026-03-08 10:30 UTC));
    }

    #[test]
    fn a_day_starts_at_local_midnight() {
        let zone = SiteZone::parse("Europe/Athens").unwrap();
        let start = zone.start_of(time::macros::date!(2026 - 07 - 01)).unwrap();
        assert_eq!(start, datetime!(2026-06-30 21:00 UTC));
    }

    #[test]
    fn unknown_zones_are_refused() {
        assert_eq!(SiteZone::parse("Mars/Olympus_Mons"), None);
        assert_eq!(SiteZone::parse("../etc/passwd"), None);
        assert_eq!(SiteZone::parse(""), None);
        assert_eq!(SiteZone::parse("UTC"), Some(SiteZone::UTC));
    }
}
