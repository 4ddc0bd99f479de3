// Route matching as Clerk's `createRouteMatcher` (see RouteMatcher's docs).
use std::fmt;
use std::sync::Arc;

use http::Method;
use regex::RegexSet;

use path::{inspect, readings};
use pattern::{EMPTY_SEGMENT, SEGMENT, compile};

mod path;
mod pattern;

/// A pattern could not be compiled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid route pattern {pattern:?}: {message}")]
pub struct RouteError {
    pattern: String,
    message: &'static str,
}

/// The request path has no reading the guard can trust (answer 400): see
/// [the module docs](RouteMatcher#how-the-guard-reads-paths).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("malformed request path")]
pub struct MalformedPath;

/// The path of a request as the framework routes it: the full path and,
/// inside a nested router that strips its mount prefix (axum's `nest`),
/// the path the nested router sees. A guard protects the request when
/// either one matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestPath<'a> {
    full: &'a str,
    mounted: Option<&'a str>,
    /// The query, for the sign-in redirect's `redirect_url` only.
    query: Option<&'a str>,
}

impl<'a> RequestPath<'a> {
    /// The full path `full`, as seen inside a nested router as `mounted`.
    pub fn nested(full: &'a str, mounted: &'a str) -> Self {
        // Below a mount point the remainder may be empty: the mount's root.
        let mounted = if mounted.is_empty() { "/" } else { mounted };
        Self {
            full,
            query: None,
            mounted: (mounted != full).then_some(mounted),
        }
    }
}

impl<'a> RequestPath<'a> {
    /// The same path with the request's query (never matched: it goes
    /// into the `redirect_url` of a sign-in redirect, so the visitor comes
    /// back to the page they asked for).
    #[must_use]
    #[doc(hidden)] // adapters only
    pub fn with_query(mut self, query: Option<&'a str>) -> Self {
        self.query = query;
        self
    }

    /// The full path and query, as requested.
    pub(crate) fn target(&self) -> String {
        match self.query {
            Some(q) => format!("{}?{q}", self.full),
            None => self.full.to_owned(),
        }
    }
}

impl<'a> From<&'a str> for RequestPath<'a> {
    fn from(full: &'a str) -> Self {
        Self {
            full,
            mounted: None,
            query: None,
        }
    }
}

type MatchFn = Arc<dyn Fn(&Method, &str) -> bool + Send + Sync>;

/// Which requests a protection applies to.
///
/// Route matching compatible with Clerk's `createRouteMatcher`
/// (path-to-regexp 6 rules): `/dashboard(.*)`, `/api/orgs/:id`,
/// `/docs/:path*`, `:id?`, `:id+`, custom groups like `:id(\d+)`;
/// case-insensitive, optional trailing slash, anchored at both ends.
///
/// Patterns are compiled once into one [`regex::RegexSet`]. Clerk's own
/// matcher (`createPathMatcher` in `@clerk/shared/pathMatcher`, used by
/// `createRouteMatcher` in `packages/astro/src/server/route-matcher.ts` and
/// the Next.js SDK) tests one reading, `new URL(req.url).pathname`; a Rust
/// guard sits in front of routers that read paths differently, so this one
/// tests them all.
///
/// # How the guard reads paths
///
/// A guard must protect every request the framework will route to a
/// protected handler, and frameworks read paths differently: axum routes the
/// raw, percent-encoded path (and gives `/orgs//members` to
/// `/orgs/{id}/members` with an empty `id`); actix-web decodes it first
/// (except `%2F`, `%25` and `%2B`); proxies and `NormalizePath` layers merge
/// `//`. So a request is **protected when any reading of its path
/// matches**:
///
/// * the raw path;
/// * the percent-decoded path, with encoded slashes (`%2F`, `%5C`) and
///   delimiters (`%3F`, `%23`) kept encoded, in their segment, as routers
///   see them;
/// * the fully decoded path, with `%2F`, `%5C` and `\` read as `/`;
/// * for a double-encoded path (`%2561`), the path decoded twice, as a proxy
///   that decodes twice would route it;
///
/// each with `//` collapsed to `/` and also as it is (where a parameter may
/// then be empty), and each also with `;parameters` cut from every segment.
/// Patterns are case-insensitive, a trailing slash is optional; method rules
/// compare methods case-insensitively and judge `HEAD` as `GET` (frameworks
/// serve `HEAD` with the `GET` handler). A path the guard cannot read with
/// confidence is **refused as malformed (400)**, never allowed:
///
/// * a target that does not start with `/` (`OPTIONS *`, `CONNECT`);
/// * a `%` not followed by two hex digits, or escapes that do not decode to
///   UTF-8 (including overlong forms such as `%C0%AF`);
/// * a decoded control character (`%00`–`%1F`, `%7F`, C1 controls), in the
///   once- or twice-decoded path: regexes and routers disagree on them;
/// * a `.` or `..` segment, raw, encoded or double-encoded: browsers never
///   send one, and a proxy that resolves it would route elsewhere.
///
/// ```
/// use clerk_core::protect::RouteMatcher;
/// use http::Method;
///
/// let m = RouteMatcher::new(["/dashboard(.*)", "/api/orgs/:id"])?;
/// assert!(m.matches(&Method::GET, "/Dashboard/settings")?);
/// assert!(m.matches(&Method::GET, "/dashboardxyz")?); // `(.*)` matches anything after it
/// assert!(m.matches(&Method::GET, "/api/orgs/org_1/")?);
/// assert!(m.matches(&Method::GET, "/%64ashboard")?); // decoded, as actix routes it
/// assert!(!m.matches(&Method::GET, "/api/orgs/org_1/members")?);
/// assert!(m.matches(&Method::GET, "/bad%zz").is_err());
/// assert!(m.matches(&Method::GET, "/api/orgs/org_1%3F")?); // `%3F` stays in its segment
/// assert!(m.matches(&Method::GET, "/dashboard%0A").is_err()); // a decoded control
/// assert!(m.matches(&Method::GET, "/public/../dashboard").is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct RouteMatcher {
    kind: Kind,
}

#[derive(Clone)]
enum Kind {
    Patterns {
        set: RegexSet,
        /// The same patterns with parameters that may be empty: for readings
        /// that keep `//` (axum's router gives `/orgs//members` to
        /// `/orgs/{id}/members` with an empty `id`).
        loose: RegexSet,
        /// Per pattern: the methods it applies to (`None` = all), in upper
        /// case.
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

    /// Matches `(pattern, methods)` rules; `None` methods means all. A rule
    /// for `GET` also covers `HEAD`, and methods compare case-insensitively
    /// (`get` is judged as `GET`); any other method a handler answers must
    /// be listed (or use `None`).
    ///
    /// # Errors
    /// When a pattern is not valid path-to-regexp 6 syntax.
    pub fn with_methods<I, S>(rules: I) -> Result<Self, RouteError>
    where
        I: IntoIterator<Item = (S, Option<Vec<Method>>)>,
        S: AsRef<str>,
    {
        let mut regexes = Vec::new();
        let mut loose = Vec::new();
        let mut methods = Vec::new();
        for (pattern, m) in rules {
            let pattern = pattern.as_ref();
            regexes.push(compile(pattern, SEGMENT, false)?);
            loose.push(compile(pattern, EMPTY_SEGMENT, false)?);
            methods.push(match m {
                Some(list) if list.is_empty() => {
                    return Err(RouteError {
                        pattern: pattern.to_owned(),
                        message: "an empty method list would match nothing",
                    });
                }
                Some(list) => Some(list.iter().map(upper_case).collect()),
                None => None,
            });
        }
        let set_of = |regexes: &[String]| {
            RegexSet::new(regexes).map_err(|_| RouteError {
                pattern: regexes.join(" | "),
                message: "the compiled expression is invalid",
            })
        };
        Ok(Self {
            kind: Kind::Patterns {
                set: set_of(&regexes)?,
                loose: set_of(&loose)?,
                methods,
            },
        })
    }

    /// Matches with your own function of (method, path reading). It is
    /// called with every [reading](RouteMatcher#how-the-guard-reads-paths) of the
    /// path (raw, decoded, fully decoded; `//` collapsed), and for `HEAD`
    /// also as `GET`; the request is protected when any call says so.
    pub fn from_fn(f: impl Fn(&Method, &str) -> bool + Send + Sync + 'static) -> Self {
        Self {
            kind: Kind::Fn(Arc::new(f)),
        }
    }

    /// Matches every request.
    #[cfg(test)]
    pub(crate) fn all() -> Self {
        Self::from_fn(|_, _| true)
    }

    /// True when any reading of the request path matches. `path` is the raw
    /// (percent-encoded) request path without the query, or a
    /// [`RequestPath::nested`].
    ///
    /// # Errors
    /// [`MalformedPath`] when a path has no reading the guard can trust
    /// (a guard answers it with a 400 [`Refusal`](crate::Refusal), which it converts into).
    pub fn matches<'a>(
        &self,
        method: &Method,
        path: impl Into<RequestPath<'a>>,
    ) -> Result<bool, MalformedPath> {
        let path = path.into();
        // `*` (`OPTIONS *`) or an authority (`CONNECT`) is routed to a
        // fallback, if anywhere: no pattern can judge it.
        if !path.full.starts_with('/') {
            return Err(MalformedPath);
        }
        let method = Judged::of(method);
        let full = self.matches_raw(&method, path.full)?;
        match path.mounted {
            Some(mounted) => Ok(self.matches_raw(&method, mounted)? || full),
            None => Ok(full),
        }
    }

    fn matches_raw(&self, method: &Judged<'_>, raw: &str) -> Result<bool, MalformedPath> {
        let shape = inspect(raw)?;
        if shape.is_plain() {
            return Ok(self.matches_reading(method, raw, false));
        }
        let mut hit = false;
        for (reading, keeps_empty_segments) in readings(raw, shape)? {
            hit |= self.matches_reading(method, &reading, keeps_empty_segments);
        }
        Ok(hit)
    }

    fn matches_reading(&self, method: &Judged<'_>, path: &str, loose_set: bool) -> bool {
        match &self.kind {
            Kind::Fn(f) => method.any(|m| f(m, path)),
            Kind::Patterns {
                set,
                loose,
                methods,
            } => if loose_set { loose } else { set }
                .matches(path)
                .iter()
                .any(|i| {
                    methods
                        .get(i)
                        .and_then(Option::as_ref)
                        .is_none_or(|allowed| method.any(|m| allowed.contains(m)))
                }),
        }
    }
}

/// One pattern compiled with its single parameters as named groups
/// (organization sync reads `:id` and `:slug`, as Clerk's
/// `organizationMatcher.ts` reads path-to-regexp's `match` params).
pub(crate) fn capturing(pattern: &str) -> Result<regex::Regex, RouteError> {
    regex::Regex::new(&compile(pattern, SEGMENT, true)?).map_err(|_| RouteError {
        pattern: pattern.to_owned(),
        message: "the compiled expression is invalid (a parameter named twice?)",
    })
}

/// The one reading of a raw path a router routes, or `None` when the
/// path is malformed or readable several ways: what a reading picks must
/// never differ from what the router serves.
pub(crate) fn routed_reading(raw: &str) -> Option<std::borrow::Cow<'_, str>> {
    path::routed(raw)
}

/// `method` in upper case when it is not already (`post` is an extension
/// method to `http`).
fn upper_case_of(method: &Method) -> Option<Method> {
    let name = method.as_str();
    name.bytes()
        .any(|b| b.is_ascii_lowercase())
        .then(|| Method::from_bytes(name.to_ascii_uppercase().as_bytes()).ok())
        .flatten()
}

fn upper_case(method: &Method) -> Method {
    upper_case_of(method).unwrap_or_else(|| method.clone())
}

/// The methods a request is judged as: its own; its upper-case form (`get`
/// is an extension method to `http`, but a handler that answers every
/// method serves it); and `GET` for `HEAD`, which frameworks serve with the
/// `GET` handler.
struct Judged<'m> {
    method: &'m Method,
    upper: Option<Method>,
    head: bool,
}

impl<'m> Judged<'m> {
    fn of(method: &'m Method) -> Self {
        let upper = upper_case_of(method);
        let head = *upper.as_ref().unwrap_or(method) == Method::HEAD;
        Self {
            method,
            upper,
            head,
        }
    }

    fn any(&self, mut f: impl FnMut(&Method) -> bool) -> bool {
        f(self.method) || self.upper.as_ref().is_some_and(&mut f) || (self.head && f(&Method::GET))
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

#[cfg(test)]
mod tests;
