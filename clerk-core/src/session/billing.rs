//! Plans and features (`pla`, `fea`): comma-separated `scope:value` lists.

/// Which party a plan or feature belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// `o`: the active organization.
    Organization,
    /// `u`: the user.
    User,
    /// `ou` or `uo`: both.
    Both,
}

impl Scope {
    pub(super) fn parse(s: &str) -> Option<Self> {
        match s {
            "o" => Some(Self::Organization),
            "u" => Some(Self::User),
            "ou" | "uo" => Some(Self::Both),
            _ => None,
        }
    }

    /// True for `o`, `ou` and `uo`.
    pub fn includes_organization(self) -> bool {
        matches!(self, Self::Organization | Self::Both)
    }

    /// True for `u`, `ou` and `uo`.
    pub fn includes_user(self) -> bool {
        matches!(self, Self::User | Self::Both)
    }
}

/// A comma-separated `scope:value` claim (`pla`, `fea`).
///
/// Kept as the claim string plus entry positions, so reading a token costs
/// two allocations per list whatever its length.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ScopedList {
    source: String,
    entries: Vec<ScopedEntry>,
    well_formed: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct ScopedEntry {
    scope: Option<Scope>,
    start: usize,
    value_start: usize,
    end: usize,
}

impl ScopedList {
    pub(super) fn parse(claim: Option<&str>) -> Self {
        let mut list = Self {
            well_formed: true,
            ..Self::default()
        };
        let Some(s) = claim else { return list };
        let mut offset = 0;
        for piece in s.split(',') {
            let lead = piece.len() - piece.trim_ascii_start().len();
            let entry = piece.trim_ascii();
            let start = offset + lead;
            offset += piece.len() + 1;
            if entry.is_empty() {
                continue;
            }
            let (scope, value_start) = match entry.split_once(':') {
                Some((scope, _)) => (Scope::parse(scope), start + scope.len() + 1),
                None => {
                    list.well_formed = false;
                    (None, start + entry.len())
                }
            };
            list.entries.push(ScopedEntry {
                scope,
                start,
                value_start,
                end: start + entry.len(),
            });
        }
        list.source = s.to_owned();
        list
    }

    /// The entries as sent, trimmed, e.g. `["o:pro", "u:free"]`.
    pub fn raw(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|e| &self.source[e.start..e.end])
    }

    /// The entries with a known scope, as (scope, value).
    pub fn entries(&self) -> impl Iterator<Item = (Scope, &str)> {
        self.entries
            .iter()
            .filter_map(|e| Some((e.scope?, &self.source[e.value_start..e.end])))
    }

    /// False when an entry had no `scope:` part; then every check on this
    /// claim fails (Clerk's SDK fails closed the same way).
    pub(crate) fn is_well_formed(&self) -> bool {
        self.well_formed
    }

    /// True when the list has no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}
