//! Route matching compatible with Clerk's `createRouteMatcher`
//! (path-to-regexp 6 rules): `/dashboard(.*)`, `/api/orgs/:id`,
//! `/docs/:path*`, `:id?`, `:id+`, custom groups like `:id(\d+)`;
//! case-insensitive, optional trailing slash, anchored at both ends.
//!
//! Patterns are compiled once into one [`regex::RegexSet`]. The request path
//! is percent-decoded and `//` collapsed before matching; a path that cannot
//! be decoded is an error (answer 400), never a match by accident.
//!
//! ```
//! use clerk_core::routes::RouteMatcher;
//! use http::Method;
//!
//! let m = RouteMatcher::new(["/dashboard(.*)", "/api/orgs/:id"])?;
//! assert!(m.matches(&Method::GET, "/Dashboard/settings")?);
//! assert!(m.matches(&Method::GET, "/dashboardxyz")?); // `(.*)` matches anything after it
//! assert!(m.matches(&Method::GET, "/api/orgs/org_1/")?);
//! assert!(!m.matches(&Method::GET, "/api/orgs/org_1/members")?);
//! assert!(m.matches(&Method::GET, "/bad%zz").is_err());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use http::Method;
use regex::RegexSet;

/// A pattern could not be compiled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid route pattern {pattern:?}: {message}")]
pub struct RouteError {
    pattern: String,
    message: &'static str,
}

/// The request path cannot be percent-decoded (answer 400).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("malformed request path")]
pub struct MalformedPath;

type MatchFn = Arc<dyn Fn(&Method, &str) -> bool + Send + Sync>;

/// Which requests a protection applies to.
#[derive(Clone)]
pub struct RouteMatcher {
    kind: Kind,
}

#[derive(Clone)]
enum Kind {
    Patterns {
        set: RegexSet,
        /// Per pattern: the methods it applies to (`None` = all).
        methods: Vec<Option<Vec<Method>>>,
    },
    Fn(MatchFn),
}

impl RouteMatcher {
    /// Matches any of `patterns`, for every method.
    ///
    /// # Errors
    /// When a pattern is not valid path-to-regexp 6 syntax.
    pub fn new<I, S>(patterns: I) -> Result<Self, RouteError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        Self::with_methods(patterns.into_iter().map(|p| (p, None)))
    }

    /// Matches `(pattern, methods)` rules; `None` methods means all.
    ///
    /// # Errors
    /// When a pattern is not valid path-to-regexp 6 syntax.
    pub fn with_methods<I, S>(rules: I) -> Result<Self, RouteError>
    where
        I: IntoIterator<Item = (S, Option<Vec<Method>>)>,
        S: AsRef<str>,
    {
        let mut regexes = Vec::new();
        let mut methods = Vec::new();
        for (pattern, m) in rules {
            regexes.push(compile(pattern.as_ref())?);
            methods.push(m);
        }
        let set = RegexSet::new(&regexes).map_err(|_| RouteError {
            pattern: regexes.join(" | "),
            message: "the compiled expression is invalid",
        })?;
        Ok(Self {
            kind: Kind::Patterns { set, methods },
        })
    }

    /// Matches with your own function of (method, decoded path).
    pub fn from_fn(f: impl Fn(&Method, &str) -> bool + Send + Sync + 'static) -> Self {
        Self {
            kind: Kind::Fn(Arc::new(f)),
        }
    }

    /// Matches every request.
    pub fn all() -> Self {
        Self::from_fn(|_, _| true)
    }

    /// True when the request matches. `path` is the raw (percent-encoded)
    /// request path without the query.
    ///
    /// An encoded slash (`%2F`, `%5C`) stays one segment, as frameworks
    /// route it (`/api/orgs/a%2Fb` is `/api/orgs/:id`); and to fail closed,
    /// the path also matches when its fully decoded form does.
    ///
    /// # Errors
    /// [`MalformedPath`] when the path cannot be decoded.
    pub fn matches(&self, method: &Method, path: &str) -> Result<bool, MalformedPath> {
        if self.matches_normalized(method, &normalize_path(path)?) {
            return Ok(true);
        }
        Ok(has_encoded_separator(path) && self.matches_normalized(method, &decode_fully(path)?))
    }

    /// True when the request matches an already [normalized](normalize_path) path.
    pub fn matches_normalized(&self, method: &Method, path: &str) -> bool {
        match &self.kind {
            Kind::Fn(f) => f(method, path),
            Kind::Patterns { set, methods } => set.matches(path).iter().any(|i| {
                methods
                    .get(i)
                    .and_then(Option::as_ref)
                    .is_none_or(|allowed| allowed.contains(method))
            }),
        }
    }
}

impl fmt::Debug for RouteMatcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Patterns { set, .. } => f
                .debug_struct("RouteMatcher")
                .field("patterns", &set.patterns())
                .finish(),
            Kind::Fn(_) => f.write_str("RouteMatcher(fn)"),
        }
    }
}

/// Percent-decodes `path` (except encoded separators `%2F` and `%5C`,
/// which stay one segment) and collapses repeated `/`.
///
/// # Errors
/// [`MalformedPath`] for a `%` not followed by two hex digits, or bytes
/// that do not decode to UTF-8.
pub fn normalize_path(path: &str) -> Result<Cow<'_, str>, MalformedPath> {
    check_escapes(path)?;
    if has_encoded_separator(path) {
        // Decode around the separators, keeping them encoded.
        let mut out = String::with_capacity(path.len());
        let mut rest = path;
        while let Some(i) = find_separator(rest) {
            out.push_str(&decode(&rest[..i])?);
            out.push_str(&rest[i..i + 3].to_ascii_uppercase());
            rest = &rest[i + 3..];
        }
        out.push_str(&decode(rest)?);
        return Ok(Cow::Owned(collapse(&out).into_owned()));
    }
    let decoded = decode(path)?;
    Ok(match collapse(&decoded) {
        Cow::Borrowed(_) => decoded,
        Cow::Owned(s) => Cow::Owned(s),
    })
}

fn check_escapes(path: &str) -> Result<(), MalformedPath> {
    let bytes = path.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'%'
            && !(bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit))
        {
            return Err(MalformedPath);
        }
    }
    Ok(())
}

fn decode(s: &str) -> Result<Cow<'_, str>, MalformedPath> {
    percent_encoding::percent_decode_str(s)
        .decode_utf8()
        .map_err(|_| MalformedPath)
}

fn find_separator(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    (0..b.len().saturating_sub(2))
        .find(|&i| b[i] == b'%' && (matches!(&b[i + 1..i + 3], b"2F" | b"2f" | b"5C" | b"5c")))
}

fn has_encoded_separator(path: &str) -> bool {
    find_separator(path).is_some()
}

fn decode_fully(path: &str) -> Result<Cow<'_, str>, MalformedPath> {
    check_escapes(path)?;
    Ok(Cow::Owned(collapse(&decode(path)?).into_owned()))
}

fn collapse(decoded: &str) -> Cow<'_, str> {
    if !decoded.contains("//") {
        return Cow::Borrowed(decoded);
    }
    let mut out = String::with_capacity(decoded.len());
    for c in decoded.chars() {
        if !(c == '/' && out.ends_with('/')) {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// The default parameter pattern of path-to-regexp 6.
const SEGMENT: &str = r"[^/#?]+?";

/// Compiles one pattern to an anchored, case-insensitive regex with an
/// optional trailing slash, following path-to-regexp 6 (`strict: false`,
/// `end: true`, prefixes `./`).
fn compile(pattern: &str) -> Result<String, RouteError> {
    let err = |message| RouteError {
        pattern: pattern.to_owned(),
        message,
    };
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
                let mut group = SEGMENT.to_owned();
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
                match modifier {
                    None => body.push_str(&format!("{p}(?:{group})")),
                    Some('?') => body.push_str(&format!("(?:{p}(?:{group}))?")),
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
    Ok(format!("(?i)^{body}/?$"))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn m(patterns: &[&str]) -> RouteMatcher {
        RouteMatcher::new(patterns).unwrap()
    }

    fn hit(m: &RouteMatcher, path: &str) -> bool {
        m.matches(&Method::GET, path).unwrap()
    }

    #[test]
    fn wildcard_group_and_the_dashboardxyz_trap() {
        let d = m(&["/dashboard(.*)"]);
        for p in [
            "/dashboard",
            "/dashboard/",
            "/dashboard/a/b",
            "/dashboardxyz",
            "/DASHBOARD/x",
        ] {
            assert!(hit(&d, p), "{p}");
        }
        for p in ["/", "/dash", "/x/dashboard"] {
            assert!(!hit(&d, p), "{p}");
        }
        let d = m(&["/dashboard/:path*"]);
        for p in [
            "/dashboard",
            "/dashboard/",
            "/dashboard/a",
            "/dashboard/a/b",
        ] {
            assert!(hit(&d, p), "{p}");
        }
        assert!(!hit(&d, "/dashboardxyz"));
    }

    #[test]
    fn named_parameters_and_modifiers() {
        let orgs = m(&["/api/orgs/:id"]);
        assert!(hit(&orgs, "/api/orgs/org_1"));
        assert!(hit(&orgs, "/api/orgs/org_1/"), "optional trailing slash");
        assert!(!hit(&orgs, "/api/orgs/"));
        assert!(!hit(&orgs, "/api/orgs/org_1/members"));
        let opt = m(&["/files/:name?"]);
        assert!(hit(&opt, "/files") && hit(&opt, "/files/a") && !hit(&opt, "/files/a/b"));
        let plus = m(&["/docs/:path+"]);
        assert!(!hit(&plus, "/docs") && hit(&plus, "/docs/a") && hit(&plus, "/docs/a/b"));
        let custom = m(&[r"/users/:id(\d+)"]);
        assert!(hit(&custom, "/users/42") && !hit(&custom, "/users/abc"));
        let unnamed = m(&["/api/(.*)"]);
        assert!(hit(&unnamed, "/api/x") && !hit(&unnamed, "/api"));
        let dotted = m(&["/file.:ext"]);
        assert!(hit(&dotted, "/file.json") && !hit(&dotted, "/filejson"));
    }

    #[test]
    fn literals_are_escaped_and_case_insensitive() {
        let lit = m(&[r"/a.b\+c"]);
        assert!(hit(&lit, "/A.B+C"));
        assert!(!hit(&lit, "/axb+c"));
        assert!(
            RouteMatcher::new(["/a+c"]).is_err(),
            "a stray modifier, as in path-to-regexp"
        );
        let esc = m(&[r"/what\?"]);
        assert!(hit(&esc, "/what?"));
    }

    #[test]
    fn paths_are_decoded_and_collapsed() {
        let admin = m(&["/admin(.*)"]);
        assert!(hit(&admin, "/%61dmin"));
        assert!(hit(&admin, "//admin//users"));
        assert!(hit(&admin, "/admin%2Fusers"));
        // An encoded slash is one segment, as frameworks route it...
        let orgs = m(&["/api/orgs/:id"]);
        assert!(
            hit(&orgs, "/api/orgs/a%2Fb"),
            "must not bypass a single-segment pattern"
        );
        assert!(hit(&orgs, "/api/orgs/a%5cb"));
        assert_eq!(normalize_path("/x/a%2fb%20c").unwrap(), "/x/a%2Fb c");
        // ...and the fully decoded form is matched too (fail closed).
        let deep = m(&["/api/orgs/:id/members"]);
        assert!(hit(&deep, "/api/orgs/o%2Fmembers"));
        assert_eq!(admin.matches(&Method::GET, "/admin%zz"), Err(MalformedPath));
        assert_eq!(admin.matches(&Method::GET, "/admin%"), Err(MalformedPath));
        assert_eq!(admin.matches(&Method::GET, "/%ff%fe"), Err(MalformedPath));
        assert_eq!(normalize_path("/a%20b").unwrap(), "/a b");
        assert!(matches!(
            normalize_path("/plain").unwrap(),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn methods_and_functions() {
        let m = RouteMatcher::with_methods([
            (
                "/api/settings(.*)",
                Some(vec![Method::POST, Method::DELETE]),
            ),
            ("/api/admin", None),
        ])
        .unwrap();
        assert!(m.matches(&Method::POST, "/api/settings/x").unwrap());
        assert!(!m.matches(&Method::GET, "/api/settings/x").unwrap());
        assert!(m.matches(&Method::GET, "/api/admin").unwrap());
        let f =
            RouteMatcher::from_fn(|method, path| method == Method::PUT && path.ends_with(".json"));
        assert!(f.matches(&Method::PUT, "/x%2Ejson").unwrap());
        assert!(!f.matches(&Method::GET, "/x.json").unwrap());
        assert!(RouteMatcher::all().matches(&Method::GET, "/").unwrap());
    }

    #[test]
    fn invalid_patterns_are_errors() {
        for bad in [
            "/a/:", "/a/(", "/a/)", "/a/()", "/{x}", "/a*", "/a\\", "/(?:x)",
        ] {
            assert!(RouteMatcher::new([bad]).is_err(), "{bad}");
        }
    }
}
