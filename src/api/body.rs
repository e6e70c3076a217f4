//! Request bodies and query strings: JSON decoding with errors that name the field
//! (docs/API.md §1.2), percent-decoding. Shared by the families whose bodies are typed structs.

use serde::de::DeserializeOwned;

/// A body or query string that does not say what the endpoint needs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
    #[error("Malformed JSON: {0}")]
    InvalidJson(String),
    #[error("Invalid field '{field}': {reason}")]
    InvalidField { field: String, reason: String },
    #[error("Missing required field '{0}'")]
    MissingField(String),
    #[error("Invalid query parameter '{name}': {reason}")]
    InvalidParameter { name: &'static str, reason: String },
}

impl InputError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidJson(_) => "INVALID_JSON",
            Self::InvalidField { .. } => "INVALID_FIELD",
            Self::MissingField(_) => "MISSING_FIELD",
            Self::InvalidParameter { .. } => "INVALID_PARAMETER",
        }
    }

    /// A field whose value breaks a rule: 400 `INVALID_FIELD` naming it.
    pub fn field(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::InvalidField { field: field.into(), reason: reason.into() }
    }
}

/// Decodes a JSON body into `T`. An empty body is `{}`. Errors name the line and column
/// (malformed JSON) or the field (wrong type, unknown or missing field).
pub fn json<T: DeserializeOwned>(body: &[u8]) -> Result<T, InputError> {
    let body: &[u8] = if body.iter().all(u8::is_ascii_whitespace) { b"{}" } else { body };
    // Derived structs would also accept an array, positionally: only objects are bodies.
    if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        serde_json::from_slice::<serde::de::IgnoredAny>(body).map_err(|e| syntax_error(&e))?;
        return Err(InputError::InvalidJson("the request body must be a JSON object".into()));
    }
    let mut de = serde_json::Deserializer::from_slice(body);
    let value = serde_path_to_error::deserialize(&mut de).map_err(path_error)?;
    de.end().map_err(|e| syntax_error(&e))?;
    Ok(value)
}

fn path_error(e: serde_path_to_error::Error<serde_json::Error>) -> InputError {
    let path = e.path().to_string();
    let inner = e.into_inner();
    if !inner.is_data() {
        return syntax_error(&inner);
    }
    let message = strip_position(&inner.to_string());
    let join = |field: &str| {
        if path == "." { field.to_owned() } else { format!("{path}.{field}") }
    };
    if let Some(field) = backticked(&message, "missing field `") {
        return InputError::MissingField(join(field));
    }
    if let Some(field) = backticked(&message, "unknown field `") {
        // For unknown fields the path already ends with the field itself.
        let field = if path == "." { field.to_owned() } else { path };
        return InputError::InvalidField { field, reason: "unknown field".into() };
    }
    if path == "." {
        return InputError::InvalidJson("the request body must be a JSON object".into());
    }
    InputError::InvalidField { field: path, reason: message }
}

fn syntax_error(e: &serde_json::Error) -> InputError {
    InputError::InvalidJson(format!(
        "{} at line {} column {}",
        strip_position(&e.to_string()),
        e.line(),
        e.column()
    ))
}

/// serde_json appends " at line L column C"; we state the position ourselves.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

fn backticked<'a>(message: &'a str, prefix: &str) -> Option<&'a str> {
    let rest = message.strip_prefix(prefix)?;
    rest.split('`').next()
}

/// A body field that must be given: 400 `MISSING_FIELD` naming it when absent or blank.
pub fn required(value: Option<String>, field: &str) -> Result<String, InputError> {
    value.filter(|v| !v.trim().is_empty()).ok_or_else(|| InputError::MissingField(field.to_owned()))
}

/// Decoded `key=value` pairs of a query string, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    pairs: Vec<(String, String)>,
}

impl Query {
    pub fn parse(raw: Option<&str>) -> Self {
        let pairs = raw
            .unwrap_or("")
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (percent_decode(k, true), percent_decode(v, true))
            })
            .collect();
        Self { pairs }
    }

    /// The first value of `name`, if present and not empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs.iter().find(|(k, v)| k == name && !v.is_empty()).map(|(_, v)| v.as_str())
    }

    /// A parameter that must be given: 400 `MISSING_FIELD` naming it when absent or empty.
    pub fn required(&self, name: &str) -> Result<&str, InputError> {
        self.get(name).ok_or_else(|| InputError::MissingField(name.to_owned()))
    }

    /// `limit`: `default` when absent, else 1 to `max` (400 `INVALID_PARAMETER` otherwise).
    pub fn limit(&self, default: usize, max: usize) -> Result<usize, InputError> {
        match self.int("limit")? {
            None => Ok(default),
            Some(n) => usize::try_from(n).ok().filter(|n| (1..=max).contains(n)).ok_or_else(|| {
                InputError::InvalidParameter {
                    name: "limit",
                    reason: format!("must be between 1 and {max}"),
                }
            }),
        }
    }

    /// An integer parameter; 400 `INVALID_PARAMETER` when it is not one.
    pub fn int(&self, name: &'static str) -> Result<Option<i64>, InputError> {
        self.get(name)
            .map(|v| {
                v.trim().parse::<i64>().map_err(|_| InputError::InvalidParameter {
                    name,
                    reason: format!("'{v}' is not an integer"),
                })
            })
            .transpose()
    }
}

/// A short label from a body (an actor, a channel id): at most `max` bytes, no control
/// characters; else 400 `INVALID_FIELD` naming `field`.
pub fn short_text(field: &str, value: &str, max: usize) -> Result<(), InputError> {
    if value.len() > max || value.chars().any(char::is_control) {
        return Err(InputError::InvalidField {
            field: field.to_owned(),
            reason: format!("must be at most {max} bytes without control characters"),
        });
    }
    Ok(())
}

/// Percent-decodes (and in query strings turns `+` into a space). Invalid escapes are kept as
/// they are; bytes that are not UTF-8 become U+FFFD, which no id, name or org id can contain.
pub fn percent_decode(s: &str, plus_is_space: bool) -> String {
    let bytes = s.as_bytes();
    if !bytes.iter().any(|&b| b == b'%' || (plus_is_space && b == b'+')) {
        return s.to_owned();
    }
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b'+' if plus_is_space => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        name: String,
        level: Option<u8>,
        inner: Option<Inner>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        x: u8,
    }

    #[test]
    fn errors_name_the_problem() {
        let cases: &[(&str, &str, &str)] = &[
            ("{\"name\":", "INVALID_JSON", "line 1 column 8"),
            ("{\"name\":1}", "INVALID_FIELD", "'name'"),
            ("{\"name\":\"a\",\"zzz\":1}", "INVALID_FIELD", "'zzz'"),
            ("{}", "MISSING_FIELD", "'name'"),
            ("{\"name\":\"a\",\"inner\":{}}", "MISSING_FIELD", "'inner.x'"),
            ("{\"name\":\"a\",\"inner\":{\"x\":\"1\"}}", "INVALID_FIELD", "'inner.x'"),
            ("[1]", "INVALID_JSON", "JSON object"),
            ("{\"name\":\"a\"} x", "INVALID_JSON", "trailing"),
        ];
        for (input, code, needle) in cases {
            let e = json::<Body>(input.as_bytes()).unwrap_err();
            assert_eq!(e.code(), *code, "{input}: {e}");
            assert!(e.to_string().contains(needle), "{input}: {e}");
        }
        let e = json::<Body>(b"{\"name\":\"\xff\"}").unwrap_err();
        assert_eq!(e.code(), "INVALID_JSON");
    }

    #[test]
    fn decodes_percent_and_plus() {
        assert_eq!(percent_decode("a%20b+c", true), "a b c");
        assert_eq!(percent_decode("a+b", false), "a+b");
        assert_eq!(percent_decode("100%", false), "100%");
        assert_eq!(percent_decode("%zz%4", false), "%zz%4");
        assert_eq!(percent_decode("%ff", false), "\u{fffd}");
        let q = Query::parse(Some("limit=5&q=a%26b&empty="));
        assert_eq!(q.get("q"), Some("a&b"));
        assert_eq!(q.get("empty"), None);
        assert_eq!(q.int("limit").ok().flatten(), Some(5));
    }
}
