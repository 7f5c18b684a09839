//! Dates and times as the site's people type them: in the site's time zone, a fixed offset
//! from UTC such as `+01:00` (`[site] timezone`).

use time::{OffsetDateTime, PrimitiveDateTime, UtcOffset};

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
pub fn parse_local_datetime(raw: &str, offset: UtcOffset) -> Option<OffsetDateTime> {
    let raw = raw.trim();
    let with_seconds = match raw.len() {
        16 => format!("{raw}:00"),
        19 => raw.to_owned(),
        _ => return None,
    };
    let format = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
    let local = PrimitiveDateTime::parse(&with_seconds, format).ok()?;
    Some(local.assume_offset(offset))
}

/// The value an `<input type="datetime-local">` shows for `at` in the site's time zone.
pub fn local_datetime_input(at: OffsetDateTime, offset: UtcOffset) -> String {
    let local = at.to_offset(offset);
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
        let offset = parse_utc_offset("+01:00").unwrap();
        let at = parse_local_datetime("2026-11-28T09:00", offset).unwrap();
        assert_eq!(at, datetime!(2026-11-28 08:00 UTC));
        assert_eq!(local_datetime_input(at, offset), "2026-11-28T09:00");
        assert_eq!(parse_local_datetime("tomorrow", offset), None);
    }
}
