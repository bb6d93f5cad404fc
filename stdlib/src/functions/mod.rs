//! The built-in functions, behaving like Terraform's
//! functions of the same name.
//!
//! [`call`] is the single entry point: it strips sensitive marks from the
//! arguments and puts them back on the result, and answers "unknown" when an
//! argument is not known yet, so no function has to think about either.
//! `templatefile`, `try` and `can` need the evaluator and live in `imm-lang`.

mod collections;
mod encoding;
mod files;
mod more;
mod network;

pub use files::{read_bounded, MAX_FILE_BYTES};
mod numbers;
mod paths_sets;
mod strings;
mod time;

use crate::number::Number;
use crate::value::{Type, Value};
use std::path::Path;

/// What a function needs from its surroundings.
pub struct CallContext<'a> {
    /// The directory of the module that calls it: file paths are relative to it.
    pub module_dir: &'a Path,
}

/// Why a call failed. `argument` is the 0-based index of the argument at
/// fault, when there is one, so the caller can point at it.
#[derive(Debug, Clone, PartialEq)]
pub struct FunctionError {
    pub message: String,
    pub argument: Option<usize>,
}

impl FunctionError {
    pub fn new(message: impl Into<String>) -> Self {
        FunctionError {
            message: message.into(),
            argument: None,
        }
    }

    pub fn at(argument: usize, message: impl Into<String>) -> Self {
        FunctionError {
            message: message.into(),
            argument: Some(argument),
        }
    }
}

pub type FunctionResult = Result<Value, FunctionError>;

/// A function's signature and documentation (shown on hover and in errors).
#[derive(Debug, Clone, Copy)]
pub struct FunctionSpec {
    pub name: &'static str,
    pub signature: &'static str,
    pub min_args: usize,
    /// `None` when the function takes any number of arguments.
    pub max_args: Option<usize>,
    pub summary: &'static str,
}

const fn spec(
    name: &'static str,
    signature: &'static str,
    min_args: usize,
    max_args: Option<usize>,
    summary: &'static str,
) -> FunctionSpec {
    FunctionSpec {
        name,
        signature,
        min_args,
        max_args,
        summary,
    }
}

/// Every built-in function.
pub const FUNCTIONS: &[FunctionSpec] = &[
    spec(
        "format",
        "format(spec string, args...) string",
        1,
        None,
        "Formats values following a printf-style specification.",
    ),
    spec(
        "join",
        "join(separator string, lists...) string",
        2,
        None,
        "Concatenates the strings of one or more lists with a separator.",
    ),
    spec(
        "split",
        "split(separator string, str string) list(string)",
        2,
        Some(2),
        "Splits a string at every separator.",
    ),
    spec(
        "upper",
        "upper(str string) string",
        1,
        Some(1),
        "Converts letters to upper case.",
    ),
    spec(
        "lower",
        "lower(str string) string",
        1,
        Some(1),
        "Converts letters to lower case.",
    ),
    spec(
        "trim",
        "trim(str string, cutset string) string",
        2,
        Some(2),
        "Removes the characters of cutset from both ends.",
    ),
    spec(
        "trimprefix",
        "trimprefix(str string, prefix string) string",
        2,
        Some(2),
        "Removes a prefix if present.",
    ),
    spec(
        "trimsuffix",
        "trimsuffix(str string, suffix string) string",
        2,
        Some(2),
        "Removes a suffix if present.",
    ),
    spec(
        "replace",
        "replace(str string, substr string, replacement string) string",
        3,
        Some(3),
        "Replaces every occurrence of substr (a regex when written /like this/).",
    ),
    spec(
        "substr",
        "substr(str string, offset number, length number) string",
        3,
        Some(3),
        "Extracts characters; a negative offset counts from the end, length -1 means to the end.",
    ),
    spec(
        "startswith",
        "startswith(str string, prefix string) bool",
        2,
        Some(2),
        "Whether str starts with prefix.",
    ),
    spec(
        "endswith",
        "endswith(str string, suffix string) bool",
        2,
        Some(2),
        "Whether str ends with suffix.",
    ),
    spec(
        "regex",
        "regex(pattern string, str string) any",
        2,
        Some(2),
        "The first match: a string, a list of captures, or a map of named captures.",
    ),
    spec(
        "length",
        "length(value list|map|string) number",
        1,
        Some(1),
        "Number of elements, or of characters of a string.",
    ),
    spec(
        "concat",
        "concat(lists...) list",
        1,
        None,
        "Joins lists into one.",
    ),
    spec(
        "merge",
        "merge(maps...) map",
        0,
        None,
        "Merges maps; later keys win.",
    ),
    spec(
        "keys",
        "keys(map) list(string)",
        1,
        Some(1),
        "The keys of a map, sorted.",
    ),
    spec(
        "values",
        "values(map) list",
        1,
        Some(1),
        "The values of a map, in key order.",
    ),
    spec(
        "lookup",
        "lookup(map, key string, default?) any",
        2,
        Some(3),
        "The value of a key, or the default.",
    ),
    spec(
        "contains",
        "contains(list, value) bool",
        2,
        Some(2),
        "Whether the list holds the value.",
    ),
    spec(
        "distinct",
        "distinct(list) list",
        1,
        Some(1),
        "Removes duplicates, keeping the first of each.",
    ),
    spec(
        "flatten",
        "flatten(list) list",
        1,
        Some(1),
        "Flattens nested lists.",
    ),
    spec(
        "range",
        "range(start?, limit, step?) list(number)",
        1,
        Some(3),
        "A list of numbers.",
    ),
    spec(
        "zipmap",
        "zipmap(keys list(string), values list) map",
        2,
        Some(2),
        "A map from a list of keys and a list of values.",
    ),
    spec(
        "element",
        "element(list, index number) any",
        2,
        Some(2),
        "The element at index, wrapping around the end.",
    ),
    spec(
        "slice",
        "slice(list, start number, end number) list",
        3,
        Some(3),
        "The elements from start up to, not including, end.",
    ),
    spec(
        "sort",
        "sort(list(string)) list(string)",
        1,
        Some(1),
        "Sorts strings lexicographically.",
    ),
    spec(
        "reverse",
        "reverse(list) list",
        1,
        Some(1),
        "The list in reverse order.",
    ),
    spec(
        "coalesce",
        "coalesce(values...) any",
        1,
        None,
        "The first argument that is neither null nor an empty string.",
    ),
    spec(
        "min",
        "min(numbers...) number",
        1,
        None,
        "The smallest number.",
    ),
    spec(
        "max",
        "max(numbers...) number",
        1,
        None,
        "The largest number.",
    ),
    spec(
        "abs",
        "abs(number) number",
        1,
        Some(1),
        "The absolute value.",
    ),
    spec(
        "ceil",
        "ceil(number) number",
        1,
        Some(1),
        "The closest whole number not less than the argument.",
    ),
    spec(
        "floor",
        "floor(number) number",
        1,
        Some(1),
        "The closest whole number not greater than the argument.",
    ),
    spec(
        "parseint",
        "parseint(str string, base number) number",
        2,
        Some(2),
        "Parses an integer in a base from 2 to 62, exactly, however long.",
    ),
    spec(
        "tostring",
        "tostring(value) string",
        1,
        Some(1),
        "Converts a primitive to a string.",
    ),
    spec(
        "tonumber",
        "tonumber(value) number",
        1,
        Some(1),
        "Converts to a number.",
    ),
    spec(
        "tobool",
        "tobool(value) bool",
        1,
        Some(1),
        "Converts to a bool.",
    ),
    spec(
        "tolist",
        "tolist(value) list",
        1,
        Some(1),
        "Converts a set or tuple to a list.",
    ),
    spec(
        "toset",
        "toset(value) set",
        1,
        Some(1),
        "Converts to a set (sorted, without duplicates).",
    ),
    spec(
        "tomap",
        "tomap(value) map",
        1,
        Some(1),
        "Converts an object to a map.",
    ),
    spec(
        "jsonencode",
        "jsonencode(value) string",
        1,
        Some(1),
        "JSON text with sorted keys.",
    ),
    spec(
        "jsondecode",
        "jsondecode(str string) any",
        1,
        Some(1),
        "Parses JSON text.",
    ),
    spec(
        "yamlencode",
        "yamlencode(value) string",
        1,
        Some(1),
        "YAML text with sorted keys.",
    ),
    spec(
        "base64encode",
        "base64encode(str string) string",
        1,
        Some(1),
        "Base64 of the UTF-8 bytes.",
    ),
    spec(
        "base64decode",
        "base64decode(str string) string",
        1,
        Some(1),
        "Decodes Base64 that holds UTF-8 text.",
    ),
    spec(
        "sha256",
        "sha256(str string) string",
        1,
        Some(1),
        "Hex SHA-256 of the UTF-8 bytes.",
    ),
    spec(
        "filesha256",
        "filesha256(path string) string",
        1,
        Some(1),
        "Hex SHA-256 of a file's contents (path relative to the module).",
    ),
    spec(
        "file",
        "file(path string) string",
        1,
        Some(1),
        "A file's contents as UTF-8 text (path relative to the module).",
    ),
    spec(
        "fileexists",
        "fileexists(path string) bool",
        1,
        Some(1),
        "Whether a file exists (path relative to the module).",
    ),
    spec(
        "templatefile",
        "templatefile(path string, vars map) string",
        2,
        Some(2),
        "Renders a file as a template with the given variables.",
    ),
    spec(
        "chomp",
        "chomp(str string) string",
        1,
        Some(1),
        "Removes newline characters at the end of a string.",
    ),
    spec(
        "trimspace",
        "trimspace(str string) string",
        1,
        Some(1),
        "Removes spaces, tabs and newlines at both ends.",
    ),
    spec(
        "title",
        "title(str string) string",
        1,
        Some(1),
        "Converts the first letter of each word to upper case.",
    ),
    spec(
        "indent",
        "indent(spaces number, str string) string",
        2,
        Some(2),
        "Indents every line but the first by a number of spaces.",
    ),
    spec(
        "strrev",
        "strrev(str string) string",
        1,
        Some(1),
        "Reverses the characters (grapheme clusters) of a string.",
    ),
    spec(
        "regexall",
        "regexall(pattern string, str string) list",
        2,
        Some(2),
        "Every match of a regular expression (strings, lists of captures, or maps of named captures).",
    ),
    spec(
        "urlencode",
        "urlencode(str string) string",
        1,
        Some(1),
        "Escapes a string for a URL query (a space as +).",
    ),
    spec(
        "md5",
        "md5(str string) string",
        1,
        Some(1),
        "Hex MD5 of the UTF-8 bytes.",
    ),
    spec(
        "sha1",
        "sha1(str string) string",
        1,
        Some(1),
        "Hex SHA-1 of the UTF-8 bytes.",
    ),
    spec(
        "sha512",
        "sha512(str string) string",
        1,
        Some(1),
        "Hex SHA-512 of the UTF-8 bytes.",
    ),
    spec(
        "pow",
        "pow(base number, exponent number) number",
        2,
        Some(2),
        "base raised to the power exponent, computed with 64-bit floats as Terraform does.",
    ),
    spec(
        "log",
        "log(number, base number) number",
        2,
        Some(2),
        "The logarithm of a number in a base, computed with 64-bit floats as Terraform does.",
    ),
    spec(
        "signum",
        "signum(number) number",
        1,
        Some(1),
        "-1, 0 or 1: the sign of a whole number.",
    ),
    spec(
        "sum",
        "sum(list) number",
        1,
        Some(1),
        "The total of a non-empty list of numbers.",
    ),
    spec(
        "one",
        "one(list) any",
        1,
        Some(1),
        "The only element of a list or set of zero or one elements; null when empty.",
    ),
    spec(
        "compact",
        "compact(list) list(string)",
        1,
        Some(1),
        "The list without null and empty strings.",
    ),
    spec(
        "index",
        "index(list, value) number",
        2,
        Some(2),
        "The index of the first element equal to the value.",
    ),
    spec(
        "alltrue",
        "alltrue(list) bool",
        1,
        Some(1),
        "Whether every element is true (true for an empty list).",
    ),
    spec(
        "anytrue",
        "anytrue(list) bool",
        1,
        Some(1),
        "Whether any element is true (false for an empty list).",
    ),
    spec(
        "setproduct",
        "setproduct(sets...) list",
        1,
        None,
        "Every combination of one element of each argument.",
    ),
    spec(
        "transpose",
        "transpose(map) map(list(string))",
        1,
        Some(1),
        "Swaps the keys and the list values of a map of lists.",
    ),
    spec(
        "sensitive",
        "sensitive(value) any",
        1,
        Some(1),
        "The value, marked sensitive: never shown or stored in clear.",
    ),
    spec(
        "cidrsubnet",
        "cidrsubnet(prefix string, newbits number, netnum number) string",
        3,
        Some(3),
        "A subnet of an IPv4 or IPv6 prefix: newbits more bits, numbered netnum.",
    ),
    spec(
        "cidrhost",
        "cidrhost(prefix string, hostnum number) string",
        2,
        Some(2),
        "The address of host number hostnum in a prefix (negative: from the end).",
    ),
    spec(
        "cidrnetmask",
        "cidrnetmask(prefix string) string",
        1,
        Some(1),
        "The dotted netmask of an IPv4 prefix.",
    ),
    spec(
        "formatlist",
        "formatlist(spec string, args...) list(string)",
        1,
        None,
        "format applied element by element to lists of equal length (other arguments repeat).",
    ),
    spec(
        "base64sha256",
        "base64sha256(str string) string",
        1,
        Some(1),
        "Base64 of the SHA-256 of the UTF-8 bytes.",
    ),
    spec(
        "base64sha512",
        "base64sha512(str string) string",
        1,
        Some(1),
        "Base64 of the SHA-512 of the UTF-8 bytes.",
    ),
    spec(
        "csvdecode",
        "csvdecode(str string) list(map(string))",
        1,
        Some(1),
        "Parses CSV with a header row into a list of maps.",
    ),
    spec(
        "yamldecode",
        "yamldecode(str string) any",
        1,
        Some(1),
        "Parses the first YAML document of a string (plain yes/no/on/off are bools, as in Terraform).",
    ),
    spec(
        "basename",
        "basename(path string) string",
        1,
        Some(1),
        "The last element of a path.",
    ),
    spec(
        "dirname",
        "dirname(path string) string",
        1,
        Some(1),
        "A path without its last element.",
    ),
    spec(
        "abspath",
        "abspath(path string) string",
        1,
        Some(1),
        "The path made absolute from the directory imm runs in.",
    ),
    spec(
        "pathexpand",
        "pathexpand(path string) string",
        1,
        Some(1),
        "A leading ~ replaced with the home directory.",
    ),
    spec(
        "setunion",
        "setunion(sets...) set",
        1,
        None,
        "Every element of any of the sets.",
    ),
    spec(
        "setintersection",
        "setintersection(sets...) set",
        1,
        None,
        "The elements every set has.",
    ),
    spec(
        "setsubtract",
        "setsubtract(a set, b set) set",
        2,
        Some(2),
        "The elements of a that b does not have.",
    ),
    spec(
        "chunklist",
        "chunklist(list list, size number) list",
        2,
        Some(2),
        "The list cut into lists of size elements (0: one list).",
    ),
    spec(
        "coalescelist",
        "coalescelist(lists...) list",
        1,
        None,
        "The first list that is not empty.",
    ),
    spec(
        "matchkeys",
        "matchkeys(values list, keys list, searchset list) list",
        3,
        Some(3),
        "The values whose key, at the same index, is in searchset.",
    ),
    spec(
        "strcontains",
        "strcontains(string string, substr string) bool",
        2,
        Some(2),
        "Whether the string contains substr.",
    ),
    spec(
        "filebase64",
        "filebase64(path string) string",
        1,
        Some(1),
        "A file's bytes as Base64.",
    ),
    spec(
        "filebase64sha256",
        "filebase64sha256(path string) string",
        1,
        Some(1),
        "The SHA-256 of a file, as Base64.",
    ),
    spec(
        "filebase64sha512",
        "filebase64sha512(path string) string",
        1,
        Some(1),
        "The SHA-512 of a file, as Base64.",
    ),
    spec(
        "filemd5",
        "filemd5(path string) string",
        1,
        Some(1),
        "The MD5 of a file, as hex.",
    ),
    spec(
        "filesha1",
        "filesha1(path string) string",
        1,
        Some(1),
        "The SHA-1 of a file, as hex.",
    ),
    spec(
        "filesha512",
        "filesha512(path string) string",
        1,
        Some(1),
        "The SHA-512 of a file, as hex.",
    ),
    spec(
        "fileset",
        "fileset(path string, pattern string) set",
        2,
        Some(2),
        "The files under path matching a glob (*, **, ?, [..], {a,b}), relative to path.",
    ),
    spec(
        "formatdate",
        "formatdate(spec string, timestamp string) string",
        2,
        Some(2),
        "A timestamp written as spec says (YYYY, MMM, DD, hh, mm, ss, ZZZ, 'text'…).",
    ),
    spec(
        "timeadd",
        "timeadd(timestamp string, duration string) string",
        2,
        Some(2),
        "A timestamp plus a duration such as 1h30m (never reads the clock).",
    ),
    spec(
        "timecmp",
        "timecmp(a string, b string) number",
        2,
        Some(2),
        "-1, 0 or 1 as timestamp a is before, at or after b.",
    ),
    spec(
        "textencodebase64",
        "textencodebase64(string string, encoding string) string",
        2,
        Some(2),
        "The text in another character encoding (UTF-16LE, ISO-8859-1…), as Base64.",
    ),
    spec(
        "textdecodebase64",
        "textdecodebase64(source string, encoding string) string",
        2,
        Some(2),
        "Base64 of text in another character encoding, decoded.",
    ),
    spec(
        "uuidv5",
        "uuidv5(namespace string, name string) string",
        2,
        Some(2),
        "The name-based UUID of name in a namespace (dns, url, oid, x500 or a UUID).",
    ),
    spec(
        "cidrsubnets",
        "cidrsubnets(prefix string, newbits...) list",
        2,
        None,
        "Consecutive subnets of a prefix, one per number of extra bits.",
    ),
    spec(
        "nonsensitive",
        "nonsensitive(value any) any",
        1,
        Some(1),
        "The value without its sensitive mark (it will be shown and stored).",
    ),
    spec(
        "issensitive",
        "issensitive(value any) bool",
        1,
        Some(1),
        "Whether the value is marked sensitive.",
    ),
    spec(
        "templatestring",
        "templatestring(template string, vars object) string",
        2,
        Some(2),
        "A string (given by a reference) rendered as a template with the variables given.",
    ),
    spec(
        "try",
        "try(expressions...) any",
        1,
        None,
        "The first expression that evaluates without an error.",
    ),
    spec(
        "can",
        "can(expression) bool",
        1,
        Some(1),
        "Whether the expression evaluates without an error.",
    ),
];

/// The specification of a function, if it exists.
pub fn lookup_function(name: &str) -> Option<&'static FunctionSpec> {
    FUNCTIONS.iter().find(|f| f.name == name)
}

/// Calls a built-in function (not `templatefile`, `try`, `can`).
pub fn call(name: &str, args: Vec<Value>, ctx: &CallContext<'_>) -> FunctionResult {
    // The two functions about the mark itself see it.
    match (name, args.first()) {
        ("nonsensitive", Some(value)) => return Ok(value.clone().unmark_deep().0),
        ("issensitive", Some(value)) if value.contains_unknown() => {
            return Ok(Value::Unknown(Type::Bool))
        }
        ("issensitive", Some(value)) => return Ok(Value::Bool(value.contains_sensitive())),
        _ => {}
    }
    let mut any_sensitive = false;
    let mut any_unknown = false;
    let keeps_inner_marks = moves_elements(name);
    let args: Vec<Value> = args
        .into_iter()
        .map(|arg| {
            let (arg, marked) = if keeps_inner_marks {
                unmark_outer(arg)
            } else {
                arg.unmark_deep()
            };
            any_sensitive |= marked;
            any_unknown |= arg.contains_unknown();
            arg
        })
        .collect();
    let result = if any_unknown && !tolerates_unknown(name) {
        Ok(Value::Unknown(Type::Any))
    } else {
        dispatch(name, args, ctx)
    };
    match result {
        Ok(v) if any_sensitive => Ok(v.mark_sensitive()),
        Ok(v) => Ok(v),
        // Error messages may quote arguments; a secret is never quoted.
        Err(e) if any_sensitive => Err(FunctionError {
            message: "the call failed on a sensitive argument (its value is not shown)".into(),
            argument: e.argument,
        }),
        Err(e) => Err(e),
    }
}

/// Functions that only move their arguments' elements into the result,
/// never looking inside them: a sensitive element stays marked where it
/// lands, so `merge({ a = "x" }, { b = secret })` keeps `a` plain and a
/// plan shows (and compares) it key by key. Only an argument that is
/// sensitive as a whole makes the whole result sensitive.
fn moves_elements(name: &str) -> bool {
    matches!(
        name,
        "merge" | "concat" | "element" | "lookup" | "values" | "reverse" | "slice"
    )
}

/// The value with the marks of its outer level removed (its elements
/// keep theirs), and whether there were any.
fn unmark_outer(value: Value) -> (Value, bool) {
    match value {
        Value::Sensitive(inner, _) => (inner.unmark_deep().0, true),
        other => (other, false),
    }
}

/// Functions whose result can be known although an argument is not.
fn tolerates_unknown(name: &str) -> bool {
    matches!(name, "length" | "keys" | "concat" | "merge")
}

fn dispatch(name: &str, args: Vec<Value>, ctx: &CallContext<'_>) -> FunctionResult {
    match name {
        "format" => strings::format(args),
        "join" => strings::join(args),
        "split" => strings::split(args),
        "upper" => strings::upper(args),
        "lower" => strings::lower(args),
        "trim" => strings::trim(args),
        "trimprefix" => strings::trimprefix(args),
        "trimsuffix" => strings::trimsuffix(args),
        "replace" => strings::replace(args),
        "substr" => strings::substr(args),
        "startswith" => strings::startswith(args),
        "endswith" => strings::endswith(args),
        "regex" => strings::regex(args),
        "length" => collections::length(args),
        "concat" => collections::concat(args),
        "merge" => collections::merge(args),
        "keys" => collections::keys(args),
        "values" => collections::values(args),
        "lookup" => collections::lookup(args),
        "contains" => collections::contains(args),
        "distinct" => collections::distinct(args),
        "flatten" => collections::flatten(args),
        "range" => collections::range(args),
        "zipmap" => collections::zipmap(args),
        "element" => collections::element(args),
        "slice" => collections::slice(args),
        "sort" => collections::sort(args),
        "reverse" => collections::reverse(args),
        "coalesce" => collections::coalesce(args),
        "min" => numbers::min(args),
        "max" => numbers::max(args),
        "abs" => numbers::abs(args),
        "ceil" => numbers::ceil(args),
        "floor" => numbers::floor(args),
        "parseint" => numbers::parseint(args),
        "tostring" => encoding::tostring(args),
        "tonumber" => encoding::tonumber(args),
        "tobool" => encoding::tobool(args),
        "tolist" => encoding::tolist(args),
        "toset" => encoding::toset(args),
        "tomap" => encoding::tomap(args),
        "jsonencode" => encoding::jsonencode(args),
        "jsondecode" => encoding::jsondecode(args),
        "yamlencode" => encoding::yamlencode(args),
        "base64encode" => encoding::base64encode(args),
        "base64decode" => encoding::base64decode(args),
        "sha256" => encoding::sha256(args),
        "chomp" => more::chomp(args),
        "trimspace" => more::trimspace(args),
        "title" => more::title(args),
        "indent" => more::indent(args),
        "strrev" => more::strrev(args),
        "regexall" => more::regexall(args),
        "urlencode" => more::urlencode(args),
        "md5" => more::md5(args),
        "sha1" => more::sha1(args),
        "sha512" => more::sha512(args),
        "pow" => more::pow(args),
        "log" => more::log(args),
        "signum" => more::signum(args),
        "sum" => more::sum(args),
        "one" => more::one(args),
        "compact" => more::compact(args),
        "index" => more::index(args),
        "alltrue" => more::alltrue(args),
        "anytrue" => more::anytrue(args),
        "setproduct" => more::setproduct(args),
        "transpose" => more::transpose(args),
        "sensitive" => more::sensitive(args),
        "basename" => paths_sets::basename(args),
        "dirname" => paths_sets::dirname(args),
        "abspath" => paths_sets::abspath(args),
        "pathexpand" => paths_sets::pathexpand(args),
        "setunion" => paths_sets::setunion(args),
        "setintersection" => paths_sets::setintersection(args),
        "setsubtract" => paths_sets::setsubtract(args),
        "chunklist" => paths_sets::chunklist(args),
        "coalescelist" => paths_sets::coalescelist(args),
        "matchkeys" => paths_sets::matchkeys(args),
        "strcontains" => paths_sets::strcontains(args),
        "filebase64" => files::filebase64(args, ctx),
        "filebase64sha256" => files::filebase64sha256(args, ctx),
        "filebase64sha512" => files::filebase64sha512(args, ctx),
        "filemd5" => files::filemd5(args, ctx),
        "filesha1" => files::filesha1(args, ctx),
        "filesha512" => files::filesha512(args, ctx),
        "fileset" => files::fileset(args, ctx),
        "formatdate" => time::formatdate(args),
        "timeadd" => time::timeadd(args),
        "timecmp" => time::timecmp(args),
        "textencodebase64" => encoding::textencodebase64(args),
        "textdecodebase64" => encoding::textdecodebase64(args),
        "uuidv5" => encoding::uuidv5(args),
        "cidrsubnets" => network::cidrsubnets(args),
        "cidrsubnet" => network::cidrsubnet(args),
        "cidrhost" => network::cidrhost(args),
        "cidrnetmask" => network::cidrnetmask(args),
        "formatlist" => more::formatlist(args),
        "base64sha256" => more::base64sha256(args),
        "base64sha512" => more::base64sha512(args),
        "csvdecode" => more::csvdecode(args),
        "yamldecode" => more::yamldecode(args),
        "filesha256" => files::filesha256(args, ctx),
        "file" => files::file(args, ctx),
        "fileexists" => files::fileexists(args, ctx),
        other => Err(FunctionError::new(format!(
            "there is no function named \"{other}\""
        ))),
    }
}

// Argument helpers shared by the function modules.

pub(crate) fn arg(args: &[Value], index: usize) -> Result<&Value, FunctionError> {
    args.get(index)
        .ok_or_else(|| FunctionError::new(format!("argument {} is missing", index + 1)))
}

pub(crate) fn string_arg(args: &[Value], index: usize) -> Result<String, FunctionError> {
    match arg(args, index)? {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        Value::Null => Err(FunctionError::at(index, "argument must not be null")),
        other => Err(FunctionError::at(
            index,
            format!("a string is required, but this is a {}", other.type_name()),
        )),
    }
}

pub(crate) fn number_arg(args: &[Value], index: usize) -> Result<Number, FunctionError> {
    match arg(args, index)? {
        Value::Number(n) => Ok(n.clone()),
        Value::String(s) => Number::parse(s).map_err(|_| {
            FunctionError::at(
                index,
                format!("a number is required, but \"{s}\" is not a number"),
            )
        }),
        Value::Null => Err(FunctionError::at(index, "argument must not be null")),
        other => Err(FunctionError::at(
            index,
            format!("a number is required, but this is a {}", other.type_name()),
        )),
    }
}

pub(crate) fn integer_arg(args: &[Value], index: usize) -> Result<i64, FunctionError> {
    let n = number_arg(args, index)?;
    if !n.is_integer() {
        return Err(FunctionError::at(
            index,
            format!("a whole number is required, but this is {n}"),
        ));
    }
    n.to_i64().ok_or_else(|| {
        FunctionError::at(
            index,
            format!("{n} is too large; the largest allowed is {}", i64::MAX),
        )
    })
}

pub(crate) fn list_arg(args: &[Value], index: usize) -> Result<Vec<Value>, FunctionError> {
    match arg(args, index)? {
        Value::List(items) | Value::Set(items) => Ok(items.clone()),
        Value::Null => Err(FunctionError::at(index, "argument must not be null")),
        other => Err(FunctionError::at(
            index,
            format!("a list is required, but this is a {}", other.type_name()),
        )),
    }
}

pub(crate) fn map_arg(
    args: &[Value],
    index: usize,
) -> Result<std::collections::BTreeMap<String, Value>, FunctionError> {
    match arg(args, index)? {
        Value::Map(map) => Ok(map.clone()),
        Value::Null => Err(FunctionError::at(index, "argument must not be null")),
        other => Err(FunctionError::at(
            index,
            format!("a map is required, but this is a {}", other.type_name()),
        )),
    }
}
