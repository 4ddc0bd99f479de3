// Route patterns compiled to regexes the way path-to-regexp 6 does.
use super::RouteError;

/// The default parameter pattern of path-to-regexp 6.
pub(super) const SEGMENT: &str = r"[^/#?]+?";
/// The same, allowing an empty parameter (for readings that keep `//`).
pub(super) const EMPTY_SEGMENT: &str = r"[^/#?]*?";

/// Compiles one pattern to an anchored, case-insensitive regex with an
/// optional trailing slash, following path-to-regexp 6 (`strict: false`,
/// `end: true`, prefixes `./`). With `capture`, a named parameter that
/// matches once (no `*` / `+`) is a named group, as path-to-regexp's
/// `match` gives it in `params`.
pub(super) fn compile(pattern: &str, segment: &str, capture: bool) -> Result<String, RouteError> {
    let err = |message| RouteError {
        pattern: pattern.to_owned(),
        message,
    };
    // path-to-regexp accepts `admin(.*)`, which matches no request path: in
    // a guard that is a silent hole, so it is an error here.
    if !pattern.starts_with('/') {
        return Err(err("a pattern must start with '/'"));
    }
    let chars: Vec<char> = pattern.chars().collect();
    let mut body = String::new();
    // Literal text not yet written, so a `/` or `.` before a parameter can
    // become that parameter's prefix.
    let mut literal = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\\' => {
                let next = *chars.get(i + 1).ok_or(err("trailing backslash"))?;
                literal.push(next);
                i += 2;
            }
            ':' | '(' => {
                let mut name = String::new();
                if c == ':' {
                    i += 1;
                    while let Some(&n) = chars.get(i) {
                        if n.is_ascii_alphanumeric() || n == '_' {
                            name.push(n);
                            i += 1;
                        } else {
                            break;
                        }
                    }
                    if name.is_empty() {
                        return Err(err("missing parameter name after ':'"));
                    }
                }
                let mut group = segment.to_owned();
                if chars.get(i) == Some(&'(') {
                    let (inner, end) = group_at(&chars, i).ok_or(err("unbalanced '('"))?;
                    if inner.is_empty() {
                        return Err(err("empty group"));
                    }
                    if inner.starts_with('?') {
                        return Err(err("capturing groups only"));
                    }
                    group = inner;
                    i = end;
                }
                let modifier = match chars.get(i) {
                    Some(&m @ ('?' | '*' | '+')) => {
                        i += 1;
                        Some(m)
                    }
                    _ => None,
                };
                let prefix = match literal.chars().last() {
                    Some(p @ ('/' | '.')) => {
                        literal.pop();
                        Some(p)
                    }
                    _ => None,
                };
                body.push_str(&regex::escape(&literal));
                literal.clear();
                let p = prefix
                    .map(|p| regex::escape(&p.to_string()))
                    .unwrap_or_default();
                let open = if capture && !name.is_empty() {
                    format!("(?P<{name}>")
                } else {
                    "(?:".to_owned()
                };
                match modifier {
                    None => body.push_str(&format!("{p}{open}{group})")),
                    Some('?') => body.push_str(&format!("(?:{p}{open}{group}))?")),
                    Some('+') => body.push_str(&format!("(?:{p}(?:{group})(?:{p}(?:{group}))*)")),
                    Some(_) => body.push_str(&format!("(?:{p}(?:{group})(?:{p}(?:{group}))*)?")),
                }
            }
            '{' | '}' => return Err(err("'{' groups are not supported")),
            ')' => return Err(err("unbalanced ')'")),
            '?' | '*' | '+' => return Err(err("modifier without a parameter")),
            _ => {
                literal.push(c);
                i += 1;
            }
        }
    }
    body.push_str(&regex::escape(&literal));
    Ok(format!("(?is)^{body}/?$"))
}

/// The contents of the balanced group starting at `chars[start] == '('`,
/// and the index after its `)`.
fn group_at(chars: &[char], start: usize) -> Option<(String, usize)> {
    let mut depth = 0usize;
    let mut out = String::new();
    let mut i = start;
    while i < chars.len() {
        let c = chars[i];
        if c == '\\' {
            out.push(c);
            out.push(*chars.get(i + 1)?);
            i += 2;
            continue;
        }
        if c == '(' {
            depth += 1;
            if depth == 1 {
                i += 1;
                continue;
            }
        } else if c == ')' {
            depth -= 1;
            if depth == 0 {
                return Some((out, i + 1));
            }
        }
        out.push(c);
        i += 1;
    }
    None
}
