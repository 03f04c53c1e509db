//! ROS 2 names and the DDS names they travel under.
//!
//! Follows the ROS 2 design article "Topic and Service name mapping to
//! DDS" and rcl/rmw's name validation:
//!
//! - a topic `/imu/data` is the DDS topic `rt/imu/data`; a service
//!   `/add_two_ints` is the request topic `rq/add_two_intsRequest` and the
//!   reply topic `rr/add_two_intsReply`;
//! - a type `sensor_msgs/msg/Imu` is the DDS type
//!   `sensor_msgs::msg::dds_::Imu_`; a service type
//!   `example_interfaces/srv/AddTwoInts` is the pair
//!   `example_interfaces::srv::dds_::AddTwoInts_Request_` /
//!   `..._Response_`;
//! - a name is made of tokens of `[A-Za-z0-9_]` separated by single `/`; a
//!   token does not start with a digit, no name contains `__`, ends with
//!   `/` or repeats `/`; `~` (the node's private namespace) may only start a
//!   name and is followed by `/` or ends it; `{node}` and `{ns}` (or
//!   `{namespace}`) are substitutions. A fully qualified name starts with
//!   `/` and is at most [`MAX_NAME_LEN`] characters.
//!
//! Relative names, `~` and substitutions are expanded by
//! [`resolve_name`] against a node's namespace and name; the DDS mapping
//! functions take fully qualified names only, as rmw does.

use thiserror::Error;

/// Longest fully qualified topic or service name, as rmw allows it
/// (`RMW_TOPIC_MAX_NAME_LENGTH`: 255 minus room for the DDS prefix).
pub const MAX_NAME_LEN: usize = 247;

/// DDS topic prefix of ROS 2 topics.
pub const TOPIC_PREFIX: &str = "rt";
/// DDS topic prefix of ROS 2 service requests.
pub const REQUEST_PREFIX: &str = "rq";
/// DDS topic prefix of ROS 2 service replies.
pub const REPLY_PREFIX: &str = "rr";

/// A name that is not a valid ROS 2 (or ROS 2 on DDS) name.
///
/// Displays as ``invalid ROS 2 name `NAME` at character N: what``.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("invalid ROS 2 name `{name}` at character {position}: {kind}")]
#[non_exhaustive]
pub struct NameError {
    /// The name as given.
    pub name: String,
    /// 0-based character index of the problem (the name's length for a
    /// problem at its end).
    pub position: usize,
    /// What is wrong.
    pub kind: NameErrorKind,
}

/// What is wrong with a name.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum NameErrorKind {
    /// The name is empty.
    #[error("a name must not be empty")]
    Empty,
    /// A character outside `[A-Za-z0-9_/~{}]`.
    #[error("`{0}` is not allowed: names use letters, digits, `_` and `/`")]
    BadChar(char),
    /// A token starting with a digit.
    #[error("a token must not start with a digit (`{0}`)")]
    TokenStartsWithDigit(char),
    /// `//`.
    #[error("`/` must not be repeated")]
    RepeatedSlash,
    /// `__`.
    #[error("`_` must not be repeated")]
    RepeatedUnderscore,
    /// A name ending with `/` (other than `/` alone, which is not a topic
    /// either).
    #[error("a name must not end with `/`")]
    TrailingSlash,
    /// `~` anywhere but first, or not followed by `/`.
    #[error("`~` may only start a name and must be followed by `/` (`~/foo`)")]
    MisplacedTilde,
    /// An unclosed `{`, a `}` without `{`, or a brace inside a substitution.
    #[error("unbalanced `{{` `}}`")]
    UnbalancedBrace,
    /// A substitution other than `{node}`, `{ns}` and `{namespace}`.
    #[error("unknown substitution `{{{0}}}`: expected {{node}}, {{ns}} or {{namespace}}")]
    UnknownSubstitution(String),
    /// A relative name, `~` or substitution where a fully qualified name is
    /// needed.
    #[error("not fully qualified: expected a name starting with `/`")]
    NotFullyQualified,
    /// Longer than [`MAX_NAME_LEN`].
    #[error("{len} characters, more than the {max} allowed")]
    TooLong {
        /// The name's length in characters.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A DDS topic name that is not `rt/...` (or `rq/...Request`,
    /// `rr/...Reply` for services).
    #[error("not a ROS 2 DDS topic: expected {0}")]
    NotRos(&'static str),
}

/// A type name that is not a valid ROS 2 or ROS 2 DDS type name.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("invalid type name `{name}`: {why}")]
#[non_exhaustive]
pub struct TypeNameError {
    /// The name as given.
    pub name: String,
    /// What is wrong.
    pub why: &'static str,
}

/// Which half of a service a DDS topic carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ServiceRole {
    /// `rq/<name>Request`.
    Request,
    /// `rr/<name>Reply`.
    Reply,
}

fn error(name: &str, position: usize, kind: NameErrorKind) -> NameError {
    NameError {
        name: name.to_owned(),
        position,
        kind,
    }
}

/// Checks a name as a user may write it: relative, `~/...`, with
/// substitutions, or fully qualified.
pub fn validate_name(name: &str) -> Result<(), NameError> {
    if name.is_empty() {
        return Err(error(name, 0, NameErrorKind::Empty));
    }
    let chars: Vec<char> = name.chars().collect();
    let mut in_brace: Option<usize> = None;
    // Start of the current token (after a `/`, `~` or at 0).
    let mut token_start = true;
    for (i, &c) in chars.iter().enumerate() {
        let prev = i.checked_sub(1).map(|j| chars[j]);
        match c {
            '~' => {
                let ok = i == 0 && chars.get(1).is_none_or(|&n| n == '/');
                if !ok {
                    return Err(error(name, i, NameErrorKind::MisplacedTilde));
                }
            }
            '/' => {
                if in_brace.is_some() {
                    return Err(error(name, i, NameErrorKind::UnbalancedBrace));
                }
                if prev == Some('/') {
                    return Err(error(name, i, NameErrorKind::RepeatedSlash));
                }
                if i + 1 == chars.len() {
                    return Err(error(name, i, NameErrorKind::TrailingSlash));
                }
                token_start = true;
                continue;
            }
            '{' => {
                if in_brace.is_some() {
                    return Err(error(name, i, NameErrorKind::UnbalancedBrace));
                }
                in_brace = Some(i);
            }
            '}' => {
                let Some(open) = in_brace.take() else {
                    return Err(error(name, i, NameErrorKind::UnbalancedBrace));
                };
                let inner: String = chars[open + 1..i].iter().collect();
                if !matches!(inner.as_str(), "node" | "ns" | "namespace") {
                    return Err(error(name, open, NameErrorKind::UnknownSubstitution(inner)));
                }
            }
            '_' => {
                if prev == Some('_') {
                    return Err(error(name, i, NameErrorKind::RepeatedUnderscore));
                }
            }
            c if c.is_ascii_digit() => {
                if token_start && in_brace.is_none() {
                    return Err(error(name, i, NameErrorKind::TokenStartsWithDigit(c)));
                }
            }
            c if c.is_ascii_alphabetic() => {}
            other => return Err(error(name, i, NameErrorKind::BadChar(other))),
        }
        token_start = false;
    }
    if let Some(open) = in_brace {
        return Err(error(name, open, NameErrorKind::UnbalancedBrace));
    }
    Ok(())
}

/// Checks a fully qualified name (`/imu/data`): valid, starting with `/`,
/// no substitution left, at most [`MAX_NAME_LEN`] characters.
pub fn validate_fully_qualified(name: &str) -> Result<(), NameError> {
    validate_name(name)?;
    if !name.starts_with('/') {
        return Err(error(name, 0, NameErrorKind::NotFullyQualified));
    }
    if let Some(i) = name.chars().position(|c| c == '{') {
        return Err(error(name, i, NameErrorKind::NotFullyQualified));
    }
    if name == "/" {
        return Err(error(name, 0, NameErrorKind::TrailingSlash));
    }
    let len = name.chars().count();
    if len > MAX_NAME_LEN {
        let kind = NameErrorKind::TooLong {
            len,
            max: MAX_NAME_LEN,
        };
        return Err(error(name, MAX_NAME_LEN, kind));
    }
    Ok(())
}

/// Expands a name written in a node to its fully qualified form, as rcl
/// does: a relative name goes under `namespace`, `~` is
/// `namespace/node`, `{node}` and `{ns}`/`{namespace}` are substituted.
///
/// `namespace` is a fully qualified namespace (`/` for the root) and
/// `node` a node name (one token).
pub fn resolve_name(name: &str, namespace: &str, node: &str) -> Result<String, NameError> {
    validate_name(name)?;
    if namespace != "/" {
        validate_fully_qualified(namespace)?;
    }
    validate_name(node)?;
    if node.contains(['/', '~', '{']) {
        return Err(error(node, 0, NameErrorKind::NotFullyQualified));
    }
    let ns = namespace.trim_end_matches('/');
    let private = format!("{ns}/{node}");
    let expanded = name
        .replace("{node}", node)
        .replace("{namespace}", ns)
        .replace("{ns}", ns);
    let full = if let Some(rest) = expanded.strip_prefix('~') {
        format!("{private}{rest}")
    } else if expanded.starts_with('/') {
        expanded
    } else {
        format!("{ns}/{expanded}")
    };
    validate_fully_qualified(&full)?;
    Ok(full)
}

/// The DDS topic of a fully qualified ROS 2 topic: `/imu/data` →
/// `rt/imu/data`.
pub fn topic_to_dds(topic: &str) -> Result<String, NameError> {
    validate_fully_qualified(topic)?;
    Ok(format!("{TOPIC_PREFIX}{topic}"))
}

/// The ROS 2 topic of a DDS topic: `rt/imu/data` → `/imu/data`.
pub fn topic_from_dds(dds: &str) -> Result<String, NameError> {
    let Some(rest) = dds
        .strip_prefix(TOPIC_PREFIX)
        .filter(|r| r.starts_with('/'))
    else {
        return Err(error(dds, 0, NameErrorKind::NotRos("`rt/...`")));
    };
    validate_fully_qualified(rest).map_err(|e| shifted(dds, e, TOPIC_PREFIX.len()))?;
    Ok(rest.to_owned())
}

/// The request and reply DDS topics of a fully qualified ROS 2 service:
/// `/add_two_ints` → (`rq/add_two_intsRequest`, `rr/add_two_intsReply`).
pub fn service_to_dds(service: &str) -> Result<(String, String), NameError> {
    validate_fully_qualified(service)?;
    Ok((
        format!("{REQUEST_PREFIX}{service}Request"),
        format!("{REPLY_PREFIX}{service}Reply"),
    ))
}

/// The ROS 2 service and role of a service DDS topic:
/// `rq/add_two_intsRequest` → (`/add_two_ints`, [`ServiceRole::Request`]).
pub fn service_from_dds(dds: &str) -> Result<(String, ServiceRole), NameError> {
    let parts = [
        (REQUEST_PREFIX, "Request", ServiceRole::Request),
        (REPLY_PREFIX, "Reply", ServiceRole::Reply),
    ];
    for (prefix, suffix, role) in parts {
        let inner = dds
            .strip_prefix(prefix)
            .filter(|r| r.starts_with('/'))
            .and_then(|r| r.strip_suffix(suffix));
        if let Some(name) = inner {
            validate_fully_qualified(name).map_err(|e| shifted(dds, e, prefix.len()))?;
            return Ok((name.to_owned(), role));
        }
    }
    Err(error(
        dds,
        0,
        NameErrorKind::NotRos("`rq/<name>Request` or `rr/<name>Reply`"),
    ))
}

/// An error found in a part of `whole` starting `offset` characters in,
/// restated for `whole`.
fn shifted(whole: &str, inner: NameError, offset: usize) -> NameError {
    error(whole, inner.position + offset, inner.kind)
}

/// The DDS type of a ROS 2 interface type: `sensor_msgs/msg/Imu` →
/// `sensor_msgs::msg::dds_::Imu_`. Also takes the generated halves of
/// services (`pkg/srv/AddTwoInts_Request`) and the two-part ROS 1 style
/// `pkg/Type`, which means `pkg/msg/Type`.
pub fn type_to_dds(ros: &str) -> Result<String, TypeNameError> {
    let bad = |why| TypeNameError {
        name: ros.to_owned(),
        why,
    };
    let parts: Vec<&str> = ros.split('/').collect();
    let (package, kind, name) = match parts.as_slice() {
        [package, name] => (*package, "msg", *name),
        [package, kind, name] => (*package, *kind, *name),
        _ => return Err(bad("expected `package/msg/Type` (or srv, action)")),
    };
    check_type_parts(package, kind, name).map_err(bad)?;
    Ok(format!("{package}::{kind}::dds_::{name}_"))
}

/// The request and response DDS types of a ROS 2 service type:
/// `example_interfaces/srv/AddTwoInts` →
/// (`example_interfaces::srv::dds_::AddTwoInts_Request_`,
/// `example_interfaces::srv::dds_::AddTwoInts_Response_`).
pub fn service_type_to_dds(ros: &str) -> Result<(String, String), TypeNameError> {
    let bad = |why| TypeNameError {
        name: ros.to_owned(),
        why,
    };
    match ros.split('/').collect::<Vec<_>>().as_slice() {
        [_, "srv", _] => Ok((
            type_to_dds(&format!("{ros}_Request"))?,
            type_to_dds(&format!("{ros}_Response"))?,
        )),
        _ => Err(bad("expected a service type `package/srv/Type`")),
    }
}

/// The ROS 2 type of a DDS type: `sensor_msgs::msg::dds_::Imu_` →
/// `sensor_msgs/msg/Imu`.
pub fn type_from_dds(dds: &str) -> Result<String, TypeNameError> {
    let bad = |why| TypeNameError {
        name: dds.to_owned(),
        why,
    };
    let parts: Vec<&str> = dds.split("::").collect();
    let [package, kind, "dds_", name] = parts.as_slice() else {
        return Err(bad("expected `package::msg::dds_::Type_`"));
    };
    let name = name
        .strip_suffix('_')
        .ok_or(bad("the type name must end with `_`"))?;
    check_type_parts(package, kind, name).map_err(bad)?;
    Ok(format!("{package}/{kind}/{name}"))
}

fn check_type_parts(package: &str, kind: &str, name: &str) -> Result<(), &'static str> {
    let starts_lower = package.starts_with(|c: char| c.is_ascii_lowercase());
    let package_ok = package
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if !starts_lower || !package_ok {
        return Err("a package name is lower case letters, digits and `_`, starting with a letter");
    }
    if !matches!(kind, "msg" | "srv" | "action") {
        return Err("the interface kind must be `msg`, `srv` or `action`");
    }
    let starts_alpha = name.starts_with(|c: char| c.is_ascii_alphabetic());
    let name_ok = name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if !starts_alpha || !name_ok || name.ends_with('_') {
        return Err("a type name is letters, digits and `_`, starting with a letter");
    }
    Ok(())
}

#[cfg(test)]
#[path = "naming_tests.rs"]
mod tests;
