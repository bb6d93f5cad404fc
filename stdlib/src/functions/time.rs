//! Timestamps as Terraform writes them (RFC 3339 with an offset):
//! `formatdate`, `timeadd`, `timecmp`. None reads the clock: `timestamp()`
//! and `plantimestamp()` are left out on purpose (a plan must not change
//! by itself). Dates and instants come from `jiff`.

use super::{string_arg, FunctionError, FunctionResult};
use crate::value::Value;
use jiff::civil::DateTime;
use jiff::tz::{Offset, TimeZone};
use jiff::{SignedDuration, Timestamp};

/// A timestamp and the offset it was written with.
struct Written {
    at: Timestamp,
    offset: Offset,
}

impl Written {
    fn local(&self) -> DateTime {
        self.at.to_zoned(TimeZone::fixed(self.offset)).datetime()
    }
}

/// `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)`, as Terraform requires.
fn parse(args: &[Value], index: usize) -> Result<Written, FunctionError> {
    let text = string_arg(args, index)?;
    let bad = || {
        FunctionError::at(
            index,
            format!("\"{text}\" is not an RFC 3339 timestamp like 2024-01-02T15:04:05Z"),
        )
    };
    static PATTERN: std::sync::OnceLock<Option<regex::Regex>> = std::sync::OnceLock::new();
    let pattern = PATTERN
        .get_or_init(|| {
            regex::Regex::new(
                r"^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$",
            )
            .ok()
        })
        .as_ref()
        .ok_or_else(|| FunctionError::new("the timestamp pattern does not compile"))?;
    let caps = pattern.captures(&text).ok_or_else(bad)?;
    let number = |i: usize| -> i64 {
        caps.get(i)
            .and_then(|m| m.as_str().parse().ok())
            .unwrap_or(0)
    };
    let nanos = caps
        .get(7)
        .map(|m| format!("{:0<9}", m.as_str()).parse::<i32>().unwrap_or(0))
        .unwrap_or(0);
    let offset_seconds = match caps.get(9).map(|m| m.as_str()) {
        None => 0,
        Some(sign) => {
            let seconds = (number(10) * 3600 + number(11) * 60) as i32;
            if sign == "-" {
                -seconds
            } else {
                seconds
            }
        }
    };
    let offset = Offset::from_seconds(offset_seconds).map_err(|_| bad())?;
    let local = DateTime::new(
        number(1) as i16,
        number(2) as i8,
        number(3) as i8,
        number(4) as i8,
        number(5) as i8,
        number(6) as i8,
        nanos,
    )
    .map_err(|_| bad())?;
    let at = local
        .to_zoned(TimeZone::fixed(offset))
        .map_err(|_| bad())?
        .timestamp();
    Ok(Written { at, offset })
}

/// Go's `time.RFC3339`: no fraction, `Z` for UTC.
fn rfc3339(written: &Written) -> String {
    let local = written.local();
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}{}",
        local.year(),
        local.month(),
        local.day(),
        local.hour(),
        local.minute(),
        local.second(),
        offset_text(written.offset, true, true)
    )
}

/// `Z` (when `z_for_utc`), `+05:30` or `+0530`.
fn offset_text(offset: Offset, z_for_utc: bool, colon: bool) -> String {
    let seconds = offset.seconds();
    if seconds == 0 && z_for_utc {
        return "Z".into();
    }
    let sign = if seconds < 0 { '-' } else { '+' };
    let (hours, minutes) = (seconds.abs() / 3600, seconds.abs() % 3600 / 60);
    match colon {
        true => format!("{sign}{hours:02}:{minutes:02}"),
        false => format!("{sign}{hours:02}{minutes:02}"),
    }
}

/// Go's `time.ParseDuration`: `1h30m`, `-1.5h`, `100ms`, `10us`.
fn duration(args: &[Value], index: usize) -> Result<SignedDuration, FunctionError> {
    let text = string_arg(args, index)?;
    let bad = || {
        FunctionError::at(
            index,
            format!("\"{text}\" is not a duration like 1h30m (units: ns, us, ms, s, m, h)"),
        )
    };
    let (negative, mut rest) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(&text)),
    };
    if rest == "0" {
        return Ok(SignedDuration::ZERO);
    }
    let mut total: f64 = 0.0;
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let number_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        let amount: f64 = rest[..number_end].parse().map_err(|_| bad())?;
        rest = &rest[number_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let nanos_per_unit = match &rest[..unit_end] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return Err(bad()),
        };
        total += amount * nanos_per_unit;
        rest = &rest[unit_end..];
    }
    let nanos = if negative { -total } else { total };
    Ok(SignedDuration::from_nanos(nanos.round() as i64))
}

pub(crate) fn timeadd(args: Vec<Value>) -> FunctionResult {
    let written = parse(&args, 0)?;
    let by = duration(&args, 1)?;
    let at = written
        .at
        .checked_add(by)
        .map_err(|_| FunctionError::at(1, "the result is outside the years -9999 to 9999"))?;
    Ok(Value::String(rfc3339(&Written {
        at,
        offset: written.offset,
    })))
}

pub(crate) fn timecmp(args: Vec<Value>) -> FunctionResult {
    let a = parse(&args, 0)?;
    let b = parse(&args, 1)?;
    Ok(Value::number(match a.at.cmp(&b.at) {
        std::cmp::Ordering::Less => -1,
        std::cmp::Ordering::Equal => 0,
        std::cmp::Ordering::Greater => 1,
    }))
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// Terraform's `formatdate` specification: runs of one letter (`YYYY`,
/// `MMM`, `DD`, `EEEE`, `hh` 24-hour, `HH` 12-hour, `aa`/`AA`, `mm`,
/// `ss`, `Z`…`ZZZZZ`), `'quoted text'` (`''` for a quote), and any other
/// character as it is.
pub(crate) fn formatdate(args: Vec<Value>) -> FunctionResult {
    let spec = string_arg(&args, 0)?;
    let written = parse(&args, 1)?;
    let local = written.local();
    let chars: Vec<char> = spec.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' {
            i += 1;
            loop {
                match (chars.get(i), chars.get(i + 1)) {
                    (Some('\''), Some('\'')) => {
                        out.push('\'');
                        i += 2;
                    }
                    (Some('\''), _) => {
                        i += 1;
                        break;
                    }
                    (Some(other), _) => {
                        out.push(*other);
                        i += 1;
                    }
                    (None, _) => {
                        return Err(FunctionError::at(0, "a quoted text is not closed with '"))
                    }
                }
            }
            continue;
        }
        if !c.is_ascii_alphabetic() {
            out.push(c);
            i += 1;
            continue;
        }
        let run = chars[i..].iter().take_while(|x| **x == c).count();
        let field: String = chars[i..i + run].iter().collect();
        out.push_str(&date_field(&field, &local, written.offset)?);
        i += run;
    }
    Ok(Value::String(out))
}

fn date_field(field: &str, local: &DateTime, offset: Offset) -> Result<String, FunctionError> {
    let month = MONTHS[(local.month() - 1) as usize];
    let twelve = match local.hour() % 12 {
        0 => 12,
        h => h,
    };
    let weekday = format!("{:?}", local.date().weekday());
    Ok(match field {
        "YYYY" => format!("{:04}", local.year()),
        "YY" => format!("{:02}", local.year().rem_euclid(100)),
        "MMMM" => month.to_string(),
        "MMM" => month[..3].to_string(),
        "MM" => format!("{:02}", local.month()),
        "M" => local.month().to_string(),
        "DD" => format!("{:02}", local.day()),
        "D" => local.day().to_string(),
        "EEEE" => weekday,
        "EEE" => weekday[..3].to_string(),
        "hh" => format!("{:02}", local.hour()),
        "h" => local.hour().to_string(),
        "HH" => format!("{twelve:02}"),
        "H" => twelve.to_string(),
        "AA" => if local.hour() < 12 { "AM" } else { "PM" }.to_string(),
        "aa" => if local.hour() < 12 { "am" } else { "pm" }.to_string(),
        "mm" => format!("{:02}", local.minute()),
        "m" => local.minute().to_string(),
        "ss" => format!("{:02}", local.second()),
        "s" => local.second().to_string(),
        "ZZZZZ" => offset_text(offset, false, true),
        "ZZZZ" => offset_text(offset, false, false),
        "ZZZ" if offset.seconds() == 0 => "UTC".into(),
        "ZZZ" => offset_text(offset, false, false),
        "Z" => offset_text(offset, true, true),
        other => {
            return Err(FunctionError::at(
                0,
                format!("\"{other}\" is not a date field; quote literal text: 'text'"),
            ))
        }
    })
}
