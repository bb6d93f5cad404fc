//! CIDR functions as Terraform has them: `cidrsubnet`, `cidrhost`,
//! `cidrnetmask`, on IPv4 and IPv6 prefixes (addresses as 128-bit
//! numbers, the base masked to its prefix).

use super::{number_arg, string_arg, FunctionError, FunctionResult};
use crate::value::Value;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A prefix: its (masked) address as a number, its length, and the
/// address width (32 or 128).
struct Prefix {
    base: u128,
    length: u32,
    width: u32,
}

fn prefix(args: &[Value], index: usize) -> Result<Prefix, FunctionError> {
    let text = string_arg(args, index)?;
    let bad = || {
        FunctionError::at(
            index,
            format!("\"{text}\" is not a CIDR prefix like 10.0.0.0/16"),
        )
    };
    let (address, length) = text.split_once('/').ok_or_else(bad)?;
    let length: u32 = length.parse().map_err(|_| bad())?;
    let (address, width) = match address.parse::<IpAddr>().map_err(|_| bad())? {
        IpAddr::V4(v4) => (u128::from(u32::from(v4)), 32),
        IpAddr::V6(v6) => (u128::from(v6), 128),
    };
    if length > width {
        return Err(bad());
    }
    Ok(Prefix {
        base: address & mask(length, width),
        length,
        width,
    })
}

/// The network mask of a prefix length, as a number of `width` bits.
fn mask(length: u32, width: u32) -> u128 {
    let all = if width == 128 {
        u128::MAX
    } else {
        (1u128 << width) - 1
    };
    let host_bits = width - length;
    if host_bits >= 128 {
        0
    } else {
        all & !((1u128 << host_bits).wrapping_sub(1))
    }
}

fn address(value: u128, width: u32) -> String {
    if width == 32 {
        Ipv4Addr::from(value as u32).to_string()
    } else {
        Ipv6Addr::from(value).to_string()
    }
}

fn whole(args: &[Value], index: usize) -> Result<i128, FunctionError> {
    let n = number_arg(args, index)?;
    if !n.is_integer() {
        return Err(FunctionError::at(index, "must be a whole number"));
    }
    n.to_string()
        .parse::<i128>()
        .map_err(|_| FunctionError::at(index, format!("{n} is too large")))
}

pub(crate) fn cidrsubnet(args: Vec<Value>) -> FunctionResult {
    let p = prefix(&args, 0)?;
    let newbits = whole(&args, 1)?;
    let netnum = whole(&args, 2)?;
    let length = p.length as i128 + newbits;
    if newbits < 0 || length > p.width as i128 {
        return Err(FunctionError::at(
            1,
            format!("{newbits} more bits do not fit a /{} prefix", p.length),
        ));
    }
    let length = length as u32;
    if netnum < 0 || (newbits < 127 && netnum >= (1i128 << newbits)) {
        return Err(FunctionError::at(
            2,
            format!("{netnum} does not fit in {newbits} bits"),
        ));
    }
    let shift = p.width - length;
    let subnet = p.base | ((netnum as u128).checked_shl(shift).unwrap_or(0));
    Ok(Value::String(format!(
        "{}/{length}",
        address(subnet, p.width)
    )))
}

pub(crate) fn cidrhost(args: Vec<Value>) -> FunctionResult {
    let p = prefix(&args, 0)?;
    let hostnum = whole(&args, 1)?;
    let host_bits = p.width - p.length;
    let size: i128 = if host_bits >= 127 {
        i128::MAX
    } else {
        1i128 << host_bits
    };
    let offset = if hostnum < 0 { size + hostnum } else { hostnum };
    if offset < 0 || offset >= size {
        return Err(FunctionError::at(
            1,
            format!("host number {hostnum} is outside the /{} prefix", p.length),
        ));
    }
    Ok(Value::String(address(p.base + offset as u128, p.width)))
}

pub(crate) fn cidrnetmask(args: Vec<Value>) -> FunctionResult {
    let p = prefix(&args, 0)?;
    if p.width != 32 {
        return Err(FunctionError::at(0, "only IPv4 prefixes have a netmask"));
    }
    Ok(Value::String(address(mask(p.length, 32), 32)))
}

/// Consecutive subnets of the prefix, one per `newbits`, each at the
/// first free address aligned to its own size (Terraform's allocation).
pub(crate) fn cidrsubnets(args: Vec<Value>) -> FunctionResult {
    let p = prefix(&args, 0)?;
    let end = p.base.saturating_add(block_size(p.width - p.length));
    let mut next = p.base;
    let mut subnets = Vec::with_capacity(args.len().saturating_sub(1));
    for index in 1..args.len() {
        let newbits = whole(&args, index)?;
        let length = p.length as i128 + newbits;
        if newbits < 1 || length > p.width as i128 {
            return Err(FunctionError::at(
                index,
                format!("{newbits} more bits do not fit a /{} prefix", p.length),
            ));
        }
        let size = block_size(p.width - length as u32);
        let start = next.div_ceil(size).saturating_mul(size);
        if start.saturating_add(size) > end {
            return Err(FunctionError::at(
                index,
                format!("no room left in the /{} prefix for a /{length}", p.length),
            ));
        }
        subnets.push(Value::String(format!(
            "{}/{length}",
            address(start, p.width)
        )));
        next = start + size;
    }
    Ok(Value::List(subnets))
}

/// How many addresses `host_bits` hold (saturating for a whole IPv6 space).
fn block_size(host_bits: u32) -> u128 {
    1u128.checked_shl(host_bits).unwrap_or(u128::MAX)
}
