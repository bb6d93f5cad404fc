//! Numbers as Terraform has them: binary floating point whose precision each
//! value carries (512 bits for literals and parsed text, 64 for counts and
//! lengths, 53 for results of the float functions `pow` and `log`), rounded
//! to nearest-even, and printed as the shortest decimal that reads back to
//! the same value. So `0.1 + 0.2` is `0.3`, `9007199254740993` keeps its
//! last digit, and `1/3` has Terraform's 155 digits.
//!
//! Unlike Terraform, magnitudes are bounded (about 1e±12000) and a division
//! by zero is an error rather than an infinity, so that no configuration
//! value is ever infinite and arithmetic stays cheap.

use num_bigint::BigUint;
use num_traits::{ToPrimitive, Zero};
use std::cmp::Ordering;
use std::fmt;

/// Precision of literals, `tonumber` and decoded text (Terraform's).
pub const LITERAL_PRECISION: u32 = 512;
/// Precision of counts, lengths and indexes (Terraform's `NumberIntVal`).
pub const INTEGER_PRECISION: u32 = 64;
/// Precision of results of 64-bit float functions (`pow`, `log`).
pub const FLOAT_PRECISION: u32 = 53;

/// The largest binary exponent of a number's leading bit, either way.
const MAX_EXPONENT: i64 = 40_000;

/// A number of the language.
#[derive(Clone, Debug)]
pub struct Number {
    value: Repr,
    precision: u32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Repr {
    /// An integer that fits in an `i64` (never negative zero): most numbers
    /// a configuration holds, kept without allocating.
    Int(i64),
    NegativeZero,
    /// Any other value: `±mant × 2^exp`, `mant` odd.
    Big(Box<Parts>),
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Parts {
    negative: bool,
    mant: BigUint,
    exp: i64,
}

/// Why an operation has no number to give.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NumberError {
    DivisionByZero,
    OutOfRange,
    NotANumber,
}

impl fmt::Display for NumberError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NumberError::DivisionByZero => "division by zero",
            NumberError::OutOfRange => {
                "the number is out of range (numbers stay between about 1e-12000 and 1e12000)"
            }
            NumberError::NotANumber => "not a number",
        })
    }
}

impl std::error::Error for NumberError {}

impl PartialEq for Number {
    /// Equal values are equal whatever their precision, and `-0 == 0`, as
    /// in Terraform.
    fn eq(&self, other: &Number) -> bool {
        match (&self.value, &other.value) {
            (Repr::Int(0) | Repr::NegativeZero, Repr::Int(0) | Repr::NegativeZero) => true,
            (a, b) => a == b,
        }
    }
}

impl PartialOrd for Number {
    fn partial_cmp(&self, other: &Number) -> Option<Ordering> {
        Some(self.compare(other))
    }
}

impl From<i64> for Number {
    fn from(i: i64) -> Number {
        Number {
            value: Repr::Int(i),
            precision: INTEGER_PRECISION,
        }
    }
}

impl From<usize> for Number {
    fn from(n: usize) -> Number {
        match i64::try_from(n) {
            Ok(i) => Number::from(i),
            Err(_) => Number::from_parts(
                Parts {
                    negative: false,
                    mant: BigUint::from(n),
                    exp: 0,
                },
                INTEGER_PRECISION,
            )
            .unwrap_or_else(|_| Number::from(i64::MAX)),
        }
    }
}

impl Number {
    pub fn zero() -> Number {
        Number::from(0i64)
    }

    /// A 64-bit float, exactly, with 53 bits of precision; `None` for NaN
    /// and infinities.
    pub fn from_f64(f: f64) -> Option<Number> {
        if !f.is_finite() {
            return None;
        }
        if f == 0.0 {
            let value = if f.is_sign_negative() {
                Repr::NegativeZero
            } else {
                Repr::Int(0)
            };
            return Some(Number {
                value,
                precision: FLOAT_PRECISION,
            });
        }
        let bits = f.to_bits();
        let biased = ((bits >> 52) & 0x7ff) as i64;
        let fraction = bits & ((1u64 << 52) - 1);
        let (mant, exp) = if biased == 0 {
            (fraction, -1074)
        } else {
            (fraction | (1u64 << 52), biased - 1075)
        };
        let parts = Parts {
            negative: f < 0.0,
            mant: BigUint::from(mant),
            exp,
        };
        Number::from_parts(parts, FLOAT_PRECISION).ok()
    }

    /// A whole number from its digits, most significant first, exactly:
    /// as `parseint` reads one, with at least 64 bits of precision.
    pub fn from_digits(negative: bool, digits: &[u8], radix: u32) -> Result<Number, NumberError> {
        let mant = BigUint::from_radix_be(digits, radix).ok_or(NumberError::NotANumber)?;
        let precision = u32::try_from(mant.bits())
            .map_err(|_| NumberError::OutOfRange)?
            .max(INTEGER_PRECISION);
        let parts = Parts {
            negative: negative && !mant.is_zero(),
            mant,
            exp: 0,
        };
        Number::from_parts(parts, precision)
    }

    /// Parses decimal text as Terraform reads a literal or `tonumber`:
    /// `42`, `-7`, `3.5`, `.5`, `1e3`, `2.5E-3`, with 512 bits of precision.
    pub fn parse(text: &str) -> Result<Number, NumberError> {
        let decimal = DecimalText::scan(text).ok_or(NumberError::NotANumber)?;
        decimal.to_number()
    }

    fn from_parts(parts: Parts, precision: u32) -> Result<Number, NumberError> {
        let Parts {
            negative,
            mut mant,
            mut exp,
        } = parts;
        if mant.is_zero() {
            let value = if negative {
                Repr::NegativeZero
            } else {
                Repr::Int(0)
            };
            return Ok(Number { value, precision });
        }
        let zeros = mant.trailing_zeros().unwrap_or(0);
        mant >>= zeros;
        exp += zeros as i64;
        let top = exp + mant.bits() as i64;
        if !(-MAX_EXPONENT..=MAX_EXPONENT).contains(&top) {
            return Err(NumberError::OutOfRange);
        }
        if exp >= 0 && top <= 63 {
            let magnitude = mant.to_i64().unwrap_or(0) << exp;
            let value = Repr::Int(if negative { -magnitude } else { magnitude });
            return Ok(Number { value, precision });
        }
        let value = Repr::Big(Box::new(Parts {
            negative,
            mant,
            exp,
        }));
        Ok(Number { value, precision })
    }

    fn parts(&self) -> Parts {
        match &self.value {
            Repr::Int(i) => Parts {
                negative: *i < 0,
                mant: BigUint::from(i.unsigned_abs()),
                exp: 0,
            },
            Repr::NegativeZero => Parts {
                negative: true,
                mant: BigUint::zero(),
                exp: 0,
            },
            Repr::Big(parts) => (**parts).clone(),
        }
    }

    /// The result's precision: the larger of the operands', as Go's
    /// `big.Float` chooses it.
    fn precision_with(&self, other: &Number) -> u32 {
        self.precision.max(other.precision)
    }

    /// An `i64` result is exact when it needs no more bits than the
    /// precision holds.
    fn small(i: i64, precision: u32) -> Option<Number> {
        let fits = precision >= 64 || i.unsigned_abs() < (1u64 << precision);
        (fits && i != 0).then_some(Number {
            value: Repr::Int(i),
            precision,
        })
    }

    pub fn is_negative(&self) -> bool {
        match &self.value {
            Repr::Int(i) => *i < 0,
            Repr::NegativeZero => false,
            Repr::Big(parts) => parts.negative,
        }
    }

    pub fn is_zero(&self) -> bool {
        matches!(self.value, Repr::Int(0) | Repr::NegativeZero)
    }

    pub fn is_integer(&self) -> bool {
        match &self.value {
            Repr::Int(_) | Repr::NegativeZero => true,
            Repr::Big(parts) => parts.exp >= 0,
        }
    }

    pub fn to_i64(&self) -> Option<i64> {
        match &self.value {
            Repr::Int(i) => Some(*i),
            Repr::NegativeZero => Some(0),
            Repr::Big(_) => None,
        }
    }

    /// A whole number that indexes or counts: non-negative and small enough.
    pub fn to_usize(&self) -> Option<usize> {
        self.to_i64().and_then(|i| usize::try_from(i).ok())
    }

    /// The nearest 64-bit float (infinite when beyond its range).
    pub fn to_f64(&self) -> f64 {
        match &self.value {
            Repr::Int(i) => *i as f64,
            Repr::NegativeZero => -0.0,
            Repr::Big(parts) => {
                // 64 leading bits, the lowest one set when anything below
                // was dropped: the conversion to 53 bits then rounds as the
                // whole mantissa would (a dropped tail breaks a tie).
                let bits = parts.mant.bits();
                let drop = bits.saturating_sub(64);
                let mut leading = (&parts.mant >> drop).to_u64().unwrap_or(u64::MAX);
                if parts
                    .mant
                    .trailing_zeros()
                    .is_some_and(|zeros| zeros < drop)
                {
                    leading |= 1;
                }
                let scale = (parts.exp + drop as i64).clamp(-2000, 2000) as i32;
                let magnitude = leading as f64 * 2f64.powi(scale);
                if parts.negative {
                    -magnitude
                } else {
                    magnitude
                }
            }
        }
    }

    pub fn neg(&self) -> Number {
        let value = match &self.value {
            Repr::Int(0) => Repr::NegativeZero,
            Repr::NegativeZero => Repr::Int(0),
            Repr::Int(i) if *i != i64::MIN => Repr::Int(-i),
            _ => {
                let mut parts = self.parts();
                parts.negative = !parts.negative;
                return Number::from_parts(parts, self.precision).unwrap_or_else(|_| self.clone());
            }
        };
        Number {
            value,
            precision: self.precision,
        }
    }

    /// Negative, or negative zero: whether the text starts with `-`.
    fn has_minus_sign(&self) -> bool {
        self.is_negative() || self.value == Repr::NegativeZero
    }

    pub fn abs(&self) -> Number {
        if self.has_minus_sign() {
            self.neg()
        } else {
            self.clone()
        }
    }

    pub fn add(&self, other: &Number) -> Result<Number, NumberError> {
        let precision = self.precision_with(other);
        if let (Repr::Int(a), Repr::Int(b)) = (&self.value, &other.value) {
            if let Some(n) = a.checked_add(*b).and_then(|i| Number::small(i, precision)) {
                return Ok(n);
            }
        }
        let (a, b) = (self.parts(), other.parts());
        let (left, right, exp) = aligned(&a, &b);
        let (negative, mant) = if a.negative == b.negative {
            (a.negative, left + right)
        } else {
            match left.cmp(&right) {
                Ordering::Less => (b.negative, right - left),
                Ordering::Greater => (a.negative, left - right),
                Ordering::Equal => (false, BigUint::zero()),
            }
        };
        let parts = round(
            Parts {
                negative,
                mant,
                exp,
            },
            false,
            precision,
        );
        Number::from_parts(parts, precision)
    }

    pub fn sub(&self, other: &Number) -> Result<Number, NumberError> {
        self.add(&other.neg())
    }

    pub fn mul(&self, other: &Number) -> Result<Number, NumberError> {
        let precision = self.precision_with(other);
        if let (Repr::Int(a), Repr::Int(b)) = (&self.value, &other.value) {
            if let Some(n) = a.checked_mul(*b).and_then(|i| Number::small(i, precision)) {
                return Ok(n);
            }
        }
        let (a, b) = (self.parts(), other.parts());
        let parts = Parts {
            negative: a.negative != b.negative,
            mant: a.mant * b.mant,
            exp: a.exp + b.exp,
        };
        Number::from_parts(round(parts, false, precision), precision)
    }

    pub fn div(&self, other: &Number) -> Result<Number, NumberError> {
        if other.is_zero() {
            return Err(NumberError::DivisionByZero);
        }
        let precision = self.precision_with(other);
        if let (Repr::Int(a), Repr::Int(b)) = (&self.value, &other.value) {
            if a.checked_rem(*b) == Some(0) {
                if let Some(n) = a.checked_div(*b).and_then(|i| Number::small(i, precision)) {
                    return Ok(n);
                }
            }
        }
        let (a, b) = (self.parts(), other.parts());
        let negative = a.negative != b.negative;
        Number::from_parts(divide(negative, a, b, precision), precision)
    }

    /// Terraform's `%`: `a - b × trunc(a / b)`, with `a % 0` being `a`.
    pub fn rem(&self, other: &Number) -> Result<Number, NumberError> {
        if other.is_zero() {
            return Ok(self.clone());
        }
        if let (Repr::Int(a), Repr::Int(b)) = (&self.value, &other.value) {
            if let Some(r) = a.checked_rem(*b) {
                return Ok(Number {
                    value: Repr::Int(r),
                    precision: self.precision_with(other),
                });
            }
        }
        let quotient = self.div(other)?.trunc();
        self.sub(&other.mul(&quotient)?)
    }

    /// The integer part, toward zero.
    pub fn trunc(&self) -> Number {
        match &self.value {
            Repr::Big(parts) if parts.exp < 0 => {
                let mant = &parts.mant >> (-parts.exp) as u64;
                // An integer has no negative zero: trunc(-0.5) is 0.
                let whole = Parts {
                    negative: parts.negative && !mant.is_zero(),
                    mant,
                    exp: 0,
                };
                Number::from_parts(whole, self.precision).unwrap_or_else(|_| Number::zero())
            }
            _ => self.clone(),
        }
    }

    pub fn floor(&self) -> Number {
        self.to_integer(false)
    }

    pub fn ceil(&self) -> Number {
        self.to_integer(true)
    }

    fn to_integer(&self, up: bool) -> Number {
        let whole = self.trunc();
        if whole == *self {
            return whole;
        }
        let step = match (up, self.is_negative()) {
            (true, false) => Number::from(1i64),
            (false, true) => Number::from(-1i64),
            _ => return whole,
        };
        whole.add(&step).unwrap_or(whole)
    }

    pub fn compare(&self, other: &Number) -> Ordering {
        if let (Repr::Int(a), Repr::Int(b)) = (&self.value, &other.value) {
            return a.cmp(b);
        }
        match (self.is_zero(), other.is_zero()) {
            (true, true) => return Ordering::Equal,
            (true, false) => return sign_order(!other.is_negative()).reverse(),
            (false, true) => return sign_order(!self.is_negative()),
            (false, false) => {}
        }
        let (a, b) = (self.parts(), other.parts());
        if a.negative != b.negative {
            return sign_order(!a.negative);
        }
        let (left, right, _) = aligned(&a, &b);
        let magnitude = left.cmp(&right);
        if a.negative {
            magnitude.reverse()
        } else {
            magnitude
        }
    }

    /// JSON: a number. Beyond what a 64-bit float holds exactly, the
    /// nearest float (JSON readers rarely keep more).
    pub fn to_json(&self) -> serde_json::Value {
        match &self.value {
            Repr::Int(i) => serde_json::Value::from(*i),
            _ => serde_json::Number::from_f64(self.to_f64())
                .map(serde_json::Value::Number)
                .unwrap_or(serde_json::Value::Null),
        }
    }

    /// A JSON number read back: integers exactly; other numbers through
    /// the shortest text of the float serde read, so `0.1` is 512-bit `0.1`.
    pub fn from_json(n: &serde_json::Number) -> Option<Number> {
        if let Some(i) = n.as_i64() {
            return Some(Number::from(i));
        }
        if let Some(u) = n.as_u64() {
            return Number::parse(&u.to_string()).ok();
        }
        let f = n.as_f64()?;
        Number::parse(&format!("{f}")).ok()
    }

    /// The decimal digits of the value, rounded as `digits` says.
    fn decimal(&self, digits: Digits) -> Decimal {
        let parts = self.parts();
        if parts.mant.is_zero() {
            return Decimal::default();
        }
        let mut decimal = Decimal::exact(&parts.mant, parts.exp);
        match digits {
            Digits::Shortest => decimal.round_shortest(&parts, self.precision),
            Digits::Significant(n) => decimal.round(n),
            Digits::Fraction(n) => {
                // Go leaves digits alone when the point is further left.
                if let Ok(keep) = usize::try_from(decimal.point.saturating_add(n as i64)) {
                    decimal.round(keep)
                }
            }
        }
        decimal
    }

    fn sign(&self) -> &'static str {
        if self.has_minus_sign() {
            "-"
        } else {
            ""
        }
    }

    /// A whole number's digits in `radix` (2 to 36), signed; `None` when
    /// it has a fraction.
    pub fn integer_digits(&self, radix: u32) -> Option<String> {
        if !self.is_integer() {
            return None;
        }
        let parts = self.parts();
        let magnitude = (&parts.mant << parts.exp.max(0) as u64).to_str_radix(radix);
        let sign = if self.is_negative() { "-" } else { "" };
        Some(format!("{sign}{magnitude}"))
    }

    /// `%.Nf`: `precision` digits after the point.
    pub fn format_fixed(&self, precision: usize) -> String {
        let decimal = self.decimal(Digits::Fraction(precision));
        format!("{}{}", self.sign(), decimal.fixed(precision))
    }

    /// `%.Ne`: one digit, the point, `precision` digits, and `e±XX`.
    pub fn format_exponent(&self, precision: usize) -> String {
        let decimal = self.decimal(Digits::Significant(precision + 1));
        format!("{}{}", self.sign(), decimal.exponent(precision))
    }

    /// `%g` (and `%v`): as few digits as needed, or `precision`
    /// significant ones, with an exponent when it is below -4 or not below
    /// the precision (6 for the shortest form), as Go's `math/big` does.
    pub fn format_general(&self, precision: Option<usize>) -> String {
        let decimal = match precision {
            Some(p) => self.decimal(Digits::Significant(p.max(1))),
            None => self.decimal(Digits::Shortest),
        };
        let digits = decimal.digits.len();
        let mut wanted = precision.map_or(digits, |p| p.max(1));
        let exponent_from = match precision {
            None => 6,
            Some(_) if wanted > digits && digits as i64 >= decimal.point => digits,
            Some(_) => wanted,
        };
        let exponent = decimal.point - 1;
        let text = if exponent < -4 || exponent >= exponent_from as i64 {
            decimal.exponent(wanted.min(digits).saturating_sub(1))
        } else {
            if wanted as i64 > decimal.point {
                wanted = digits;
            }
            decimal.fixed((wanted as i64 - decimal.point).max(0) as usize)
        };
        format!("{}{text}", self.sign())
    }
}

impl fmt::Display for Number {
    /// Terraform's text of a number: every digit, no exponent.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Repr::Int(i) = self.value {
            let bits = 64 - i.unsigned_abs().leading_zeros();
            if bits <= self.precision {
                return write!(f, "{i}");
            }
        }
        let decimal = self.decimal(Digits::Shortest);
        let fraction = (decimal.digits.len() as i64 - decimal.point).max(0) as usize;
        write!(f, "{}{}", self.sign(), decimal.fixed(fraction))
    }
}

/// Both mantissas scaled to the smaller exponent, and that exponent.
fn aligned(a: &Parts, b: &Parts) -> (BigUint, BigUint, i64) {
    let exp = a.exp.min(b.exp);
    let left = &a.mant << (a.exp - exp) as u64;
    let right = &b.mant << (b.exp - exp) as u64;
    (left, right, exp)
}

fn sign_order(positive: bool) -> Ordering {
    if positive {
        Ordering::Greater
    } else {
        Ordering::Less
    }
}

/// Rounds to `precision` bits, to nearest, ties to even; `sticky` says
/// that something nonzero was already dropped below the mantissa.
fn round(parts: Parts, sticky: bool, precision: u32) -> Parts {
    let Parts {
        negative,
        mant,
        exp,
    } = parts;
    let bits = mant.bits();
    if bits <= u64::from(precision) {
        return Parts {
            negative,
            mant,
            exp,
        };
    }
    let shift = bits - u64::from(precision);
    let half = mant.bit(shift - 1);
    let below = sticky || mant.trailing_zeros().is_some_and(|zeros| zeros < shift - 1);
    let mut kept = &mant >> shift;
    let mut exp = exp + shift as i64;
    if half && (below || kept.bit(0)) {
        kept += 1u32;
        if kept.bits() > u64::from(precision) {
            kept >>= 1u32;
            exp += 1;
        }
    }
    Parts {
        negative,
        mant: kept,
        exp,
    }
}

/// `a / b` rounded to `precision` bits: the quotient gets two bits more
/// than kept, and the remainder tells the rounding whether it was exact.
fn divide(negative: bool, a: Parts, b: Parts, precision: u32) -> Parts {
    let extra = (i64::from(precision) + 2 + b.mant.bits() as i64 - a.mant.bits() as i64).max(0);
    let numerator = a.mant << extra as u64;
    let quotient = &numerator / &b.mant;
    let exact = (&quotient * &b.mant) == numerator;
    let parts = Parts {
        negative,
        mant: quotient,
        exp: a.exp - b.exp - extra,
    };
    round(parts, !exact, precision)
}

/// Decimal text split into its digits and exponent, before it becomes a
/// number.
struct DecimalText {
    negative: bool,
    digits: String,
    exponent: i64,
}

impl DecimalText {
    fn scan(text: &str) -> Option<DecimalText> {
        let (negative, rest) = match text.as_bytes().first()? {
            b'-' => (true, &text[1..]),
            b'+' => (false, &text[1..]),
            _ => (false, text),
        };
        let (mantissa, exponent) = match rest.find(['e', 'E']) {
            Some(at) => (&rest[..at], Some(&rest[at + 1..])),
            None => (rest, None),
        };
        let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty() && fraction.is_empty() || !all_digits(whole) || !all_digits(fraction) {
            return None;
        }
        let exponent = match exponent {
            Some(e) => {
                let digits = e.strip_prefix(['+', '-']).unwrap_or(e);
                if digits.is_empty() || !all_digits(digits) {
                    return None;
                }
                // A huge exponent is out of range; keep the arithmetic bounded.
                let value = digits
                    .parse::<i64>()
                    .unwrap_or(i64::MAX / 4)
                    .min(i64::MAX / 4);
                if e.starts_with('-') {
                    -value
                } else {
                    value
                }
            }
            None => 0,
        };
        let digits = format!("{whole}{fraction}");
        let digits = digits.trim_start_matches('0').to_string();
        Some(DecimalText {
            negative,
            exponent: exponent - fraction.len() as i64,
            digits,
        })
    }

    fn to_number(&self) -> Result<Number, NumberError> {
        let zero = Parts {
            negative: self.negative,
            mant: BigUint::zero(),
            exp: 0,
        };
        if self.digits.is_empty() {
            return Number::from_parts(zero, LITERAL_PRECISION);
        }
        // log2(10) ≈ 3.32: a decimal magnitude of 12,100 is past the binary bound.
        let magnitude = self.exponent + self.digits.len() as i64;
        if magnitude.abs() > 12_100 {
            return Err(NumberError::OutOfRange);
        }
        if self.exponent >= 0 && self.digits.len() as i64 + self.exponent <= 18 {
            let base: i64 = self.digits.parse().map_err(|_| NumberError::NotANumber)?;
            let value = base * 10i64.pow(self.exponent as u32);
            let signed = if self.negative { -value } else { value };
            return Ok(Number {
                value: Repr::Int(signed),
                precision: LITERAL_PRECISION,
            });
        }
        let digits =
            BigUint::parse_bytes(self.digits.as_bytes(), 10).ok_or(NumberError::NotANumber)?;
        let parts = if self.exponent >= 0 {
            let mant = digits * BigUint::from(10u32).pow(self.exponent as u32);
            round(
                Parts {
                    negative: self.negative,
                    mant,
                    exp: 0,
                },
                false,
                LITERAL_PRECISION,
            )
        } else {
            // digits / 10^k = (digits / 5^k) × 2^-k
            let k = -self.exponent;
            let numerator = Parts {
                negative: self.negative,
                mant: digits,
                exp: -k,
            };
            let denominator = Parts {
                negative: false,
                mant: BigUint::from(5u32).pow(k as u32),
                exp: 0,
            };
            divide(self.negative, numerator, denominator, LITERAL_PRECISION)
        };
        Number::from_parts(parts, LITERAL_PRECISION)
    }
}

/// How many decimal digits to keep.
enum Digits {
    /// As few as read back to the same number at its precision.
    Shortest,
    Significant(usize),
    /// This many after the point.
    Fraction(usize),
}

/// A decimal `0.DIGITS × 10^point`, as Go's `math/big` formats through.
#[derive(Default)]
struct Decimal {
    digits: Vec<u8>,
    point: i64,
}

impl Decimal {
    /// The exact decimal of `mant × 2^exp` (every binary fraction has one).
    fn exact(mant: &BigUint, exp: i64) -> Decimal {
        let (integer, fraction_digits) = if exp >= 0 {
            (mant << exp as u64, 0)
        } else {
            (mant * BigUint::from(5u32).pow((-exp) as u32), -exp)
        };
        let text = integer.to_str_radix(10);
        let point = text.len() as i64 - fraction_digits;
        let mut digits = text.into_bytes();
        while digits.last() == Some(&b'0') {
            digits.pop();
        }
        Decimal { digits, point }
    }

    fn at(&self, i: usize) -> u8 {
        self.digits.get(i).copied().unwrap_or(b'0')
    }

    /// Go's `roundShortest`: the fewest digits that still lie within half
    /// an ulp (at the value's precision) of the value.
    fn round_shortest(&mut self, parts: &Parts, precision: u32) {
        // The mantissa at exactly precision + 1 bits: its last bit is half
        // an ulp. (Bits beyond that are zeros: the value fits its precision.)
        let shift = i64::from(precision) + 1 - parts.mant.bits() as i64;
        let mant = if shift >= 0 {
            &parts.mant << shift as u64
        } else {
            &parts.mant >> (-shift) as u64
        };
        let exp = parts.exp - shift;
        let lower = Decimal::exact(&(&mant - 1u32), exp);
        let upper = Decimal::exact(&(&mant + 1u32), exp);
        let inclusive = !mant.bit(1);
        for i in 0..self.digits.len() {
            let (l, m, u) = (lower.at(i), self.digits[i], upper.at(i));
            let down = l != m || inclusive && i + 1 == lower.digits.len();
            let up = m != u && (inclusive || m + 1 < u || i + 1 < upper.digits.len());
            match (down, up) {
                (true, true) => return self.round(i + 1),
                (true, false) => return self.truncate(i + 1),
                (false, true) => return self.round_up(i + 1),
                (false, false) => {}
            }
        }
    }

    /// Keeps `n` digits, to nearest, an exact half to even.
    fn round(&mut self, n: usize) {
        if n >= self.digits.len() {
            return;
        }
        let next = self.digits[n];
        let up = if next == b'5' && n + 1 == self.digits.len() {
            n > 0 && (self.digits[n - 1] - b'0') % 2 == 1
        } else {
            next >= b'5'
        };
        if up {
            self.round_up(n)
        } else {
            self.truncate(n)
        }
    }

    fn truncate(&mut self, n: usize) {
        self.digits.truncate(n);
        while self.digits.last() == Some(&b'0') {
            self.digits.pop();
        }
    }

    fn round_up(&mut self, n: usize) {
        self.digits.truncate(n);
        while let Some(last) = self.digits.last_mut() {
            if *last < b'9' {
                *last += 1;
                return;
            }
            self.digits.pop();
        }
        // 999… became 1000…
        self.digits.push(b'1');
        self.point += 1;
    }

    /// `ddd.ddd` with `fraction` digits after the point.
    fn fixed(&self, fraction: usize) -> String {
        let mut out = String::new();
        if self.point > 0 {
            for i in 0..self.point as usize {
                out.push(self.at(i) as char);
            }
        } else {
            out.push('0');
        }
        if fraction > 0 {
            out.push('.');
            for i in 0..fraction as i64 {
                let at = self.point + i;
                out.push(if at < 0 {
                    '0'
                } else {
                    self.at(at as usize) as char
                });
            }
        }
        out
    }

    /// `d.ddde±XX` with `fraction` digits after the point.
    fn exponent(&self, fraction: usize) -> String {
        let mut out = String::new();
        out.push(if self.digits.is_empty() {
            '0'
        } else {
            self.at(0) as char
        });
        if fraction > 0 {
            out.push('.');
            for i in 1..=fraction {
                out.push(self.at(i) as char);
            }
        }
        let exp = if self.digits.is_empty() {
            0
        } else {
            self.point - 1
        };
        let sign = if exp < 0 { '-' } else { '+' };
        out.push_str(&format!("e{sign}{:02}", exp.abs()));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(text: &str) -> Number {
        Number::parse(text).expect("a number")
    }

    fn int(i: i64) -> Number {
        Number::from(i)
    }

    #[test]
    fn decimal_literals_are_exact_where_terraform_is() {
        assert_eq!(n("0.1").add(&n("0.2")).expect("a value").to_string(), "0.3");
        assert_eq!(n("0.1").add(&n("0.2")).expect("a value"), n("0.3"));
        assert_eq!(n("9007199254740993").to_string(), "9007199254740993");
        assert_eq!(
            n("9007199254740993")
                .add(&int(1))
                .expect("a value")
                .to_string(),
            "9007199254740994"
        );
        assert_eq!(
            n("123456789012345678901234567890").to_string(),
            "123456789012345678901234567890"
        );
        assert_eq!(
            n("100000000000000000000000.5").to_string(),
            "100000000000000000000000.5"
        );
        assert_eq!(n("1e21").to_string(), "1000000000000000000000");
        assert_eq!(n("1e-20").to_string(), "0.00000000000000000001");
        assert_eq!(n("123.456e-2").to_string(), "1.23456");
        assert_eq!(n(".5").to_string(), "0.5");
    }

    #[test]
    fn division_keeps_the_operands_precision() {
        let third = n("1").div(&n("3")).expect("a value");
        assert_eq!(third.to_string(), format!("0.{}5", "3".repeat(154)));
        assert_eq!(third.mul(&n("3")).expect("a value").to_string(), "1");
        assert_eq!(
            int(1).div(&int(3)).expect("a value").to_string(),
            "0.33333333333333333334"
        );
        assert_eq!(
            n("0.1").mul(&n("0.1")).expect("a value").to_string(),
            format!("0.01{}1", "0".repeat(153))
        );
        assert_eq!(n("10").div(&n("4")).expect("a value").to_string(), "2.5");
        // Terraform 1.11.4's `1/7` and `length([1,2,3])/7`, digit for digit.
        let sevenths = "142857".repeat(26);
        assert_eq!(
            n("1").div(&n("7")).expect("a value").to_string(),
            format!("0.{}", &sevenths[..155])
        );
        let three_sevenths = n("3").div(&n("7")).expect("a value").to_string();
        assert_eq!(
            three_sevenths,
            format!("0.{}6", &"428571".repeat(26)[..154])
        );
    }

    #[test]
    fn remainder_floor_and_ceil_follow_terraform() {
        assert_eq!(n("-7").rem(&n("3")).expect("a value"), int(-1));
        assert_eq!(n("7.5").rem(&n("2")).expect("a value").to_string(), "1.5");
        assert_eq!(n("10").rem(&n("3.5")).expect("a value").to_string(), "3");
        assert_eq!(n("1").rem(&n("0")).expect("a value"), int(1));
        assert_eq!(n("-2.5").floor(), int(-3));
        assert_eq!(n("2.5").floor(), int(2));
        assert_eq!(n("2.1").ceil(), int(3));
        assert_eq!(n("-0.5").ceil().to_string(), "0");
        let big = n("1e20").add(&n("0.5")).expect("a value");
        assert_eq!(big.ceil().to_string(), "100000000000000000001");
    }

    #[test]
    fn floats_print_at_their_precision() {
        assert_eq!(
            Number::from_f64(2f64.powi(100))
                .expect("a value")
                .to_string(),
            "1267650600228229400000000000000"
        );
        assert_eq!(
            Number::from_f64(2f64.sqrt()).expect("a value").to_string(),
            "1.4142135623730951"
        );
        assert_eq!(Number::from_f64(0.1).expect("a value").to_string(), "0.1");
        assert_eq!(Number::from_f64(-0.0).expect("a value").to_string(), "-0");
    }

    #[test]
    fn the_nearest_float_sees_every_bit() {
        // 1 + 2^-53 + 2^-100: just above the tie between 1 and the next
        // float, so it rounds up, which 64 leading bits alone would miss.
        let bit = |e: i32| Number::from_f64(2f64.powi(e)).expect("finite");
        let above_tie = n("1")
            .add(&bit(-53))
            .and_then(|x| x.add(&bit(-100)))
            .expect("in range");
        assert_eq!(above_tie.to_f64(), 1.0 + f64::EPSILON);
        let tie = n("1").add(&bit(-53)).expect("in range");
        assert_eq!(tie.to_f64(), 1.0, "an exact tie goes to even");
    }

    #[test]
    fn negative_zero_is_zero_but_prints_its_sign() {
        let zero = int(0).mul(&int(-1)).expect("a value");
        assert_eq!(zero.to_string(), "-0");
        assert_eq!(zero, int(0));
        assert_eq!(int(0).neg().to_string(), "-0");
    }

    #[test]
    fn comparisons_are_exact() {
        let sum = n("0.1").add(&n("0.2")).expect("a value");
        assert_eq!(sum.compare(&n("0.3")), Ordering::Equal);
        let third = n("1").div(&n("3")).expect("a value");
        assert_eq!(third.compare(&n("0.3333333333333333")), Ordering::Greater);
        assert_eq!(n("-1.5").compare(&n("-1.25")), Ordering::Less);
        assert_eq!(n("1e30").compare(&int(i64::MAX)), Ordering::Greater);
    }

    #[test]
    fn out_of_range_and_bad_text_are_errors_not_panics() {
        assert_eq!(
            Number::parse("1e100000000000").expect_err("an error"),
            NumberError::OutOfRange
        );
        assert_eq!(
            Number::parse("1e-20000").expect_err("an error"),
            NumberError::OutOfRange
        );
        assert_eq!(
            Number::parse("1e99999999999999999999").expect_err("an error"),
            NumberError::OutOfRange
        );
        for bad in [
            "", " 5", "-", "x", "1.2.3", "1e", "e5", "0x10", "inf", "NaN", "1_000",
        ] {
            assert_eq!(
                Number::parse(bad).expect_err("an error"),
                NumberError::NotANumber,
                "{bad}"
            );
        }
        assert_eq!(
            int(1).div(&int(0)).expect_err("an error"),
            NumberError::DivisionByZero
        );
        let huge = n("1e12000");
        assert_eq!(
            huge.mul(&huge).expect_err("an error"),
            NumberError::OutOfRange
        );
    }

    #[test]
    fn format_verbs_round_the_exact_decimal() {
        let third = n("1").div(&n("3")).expect("a value");
        assert_eq!(third.format_fixed(3), "0.333");
        assert_eq!(
            n("0.1").format_fixed(30),
            "0.100000000000000000000000000000"
        );
        assert_eq!(n("12345.678").format_exponent(6), "1.234568e+04");
        assert_eq!(n("2.5").format_fixed(0), "2");
        assert_eq!(n("-0.125").format_fixed(2), "-0.12");
        assert_eq!(third.format_general(None), third.to_string());
        assert_eq!(n("0.00001").format_general(None), "1e-05");
        assert_eq!(n("0.0001").format_general(None), "0.0001");
        assert_eq!(n("123456789").format_general(None), "1.23456789e+08");
        assert_eq!(n("100000").format_general(None), "100000");
        assert_eq!(n("1e21").format_general(None), "1e+21");
        assert_eq!(n("1234.5678").format_general(Some(3)), "1.23e+03");
        assert_eq!(n("0.000012345").format_general(Some(3)), "1.23e-05");
        assert_eq!(int(0).format_general(None), "0");
        assert_eq!(int(0).format_exponent(6), "0.000000e+00");
        assert_eq!(n("0.125").format_fixed(2), "0.12");
        assert_eq!(n("0.375").format_fixed(2), "0.38");
        assert_eq!(n("3.5").format_fixed(0), "4");
    }

    /// The digits read back to the double and are as few as Rust's
    /// shortest (on an exact tie Go rounds to even where Rust rounds up).
    fn assert_shortest(n: &Number, double: f64) {
        let text = n.to_string();
        assert_eq!(text.parse::<f64>().ok(), Some(double), "{text}");
        assert_eq!(text.len(), format!("{double}").len(), "{text} vs {double}");
    }

    /// At 53 bits the arithmetic must be IEEE-754 double arithmetic and
    /// the digits Rust's shortest: an oracle for the rounding and printing
    /// on thousands of values. (Powers of two are left out: Go's `math/big`,
    /// and so Terraform, treat the gap below them as if it were the one above.)
    #[test]
    fn at_53_bits_it_is_double_arithmetic() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut random = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut float = || loop {
            let bits = random();
            let exponent = 1023 - 60 + (bits >> 52) % 120;
            let f = f64::from_bits((bits & 0x800f_ffff_ffff_ffff) | (exponent << 52));
            if bits & 0x000f_ffff_ffff_ffff != 0 {
                return f;
            }
        };
        for _ in 0..3000 {
            let (a, b) = (float(), float());
            let (x, y) = (
                Number::from_f64(a).expect("finite"),
                Number::from_f64(b).expect("finite"),
            );
            assert_shortest(&x, a);
            let results = [
                (x.add(&y), a + b),
                (x.sub(&y), a - b),
                (x.mul(&y), a * b),
                (x.div(&y), a / b),
            ];
            for (exact, double) in results {
                let exact = exact.expect("in range");
                assert_eq!(exact.to_f64(), double, "{a} and {b}");
                if double.to_bits() & 0x000f_ffff_ffff_ffff != 0 {
                    assert_shortest(&exact, double);
                }
            }
            assert_eq!(x.compare(&y), a.partial_cmp(&b).expect("ordered"));
        }
    }

    #[test]
    fn json_numbers_come_back_as_written() {
        let json: serde_json::Value =
            serde_json::from_str("[0.1, 9007199254740993, -3]").expect("a value");
        let numbers: Vec<String> = json
            .as_array()
            .expect("a value")
            .iter()
            .map(|v| {
                Number::from_json(v.as_number().expect("a value"))
                    .expect("a value")
                    .to_string()
            })
            .collect();
        assert_eq!(numbers, ["0.1", "9007199254740993", "-3"]);
        let sum = Number::from_json(json[0].as_number().expect("a value"))
            .expect("a value")
            .add(&n("0.2"))
            .expect("a value");
        assert_eq!(sum.to_string(), "0.3");
    }
}
