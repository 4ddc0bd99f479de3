//! Reverification (step-up): levels, Clerk's presets, and windows.

use serde_json::{Value, json};

use crate::session::Session;

/// Which factors a reverification check looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Level {
    /// The first factor must be fresh.
    FirstFactor,
    /// The second factor must be fresh (the first, when there is no second).
    SecondFactor,
    /// Both factors must be fresh (the first, when there is no second).
    MultiFactor,
}

impl Level {
    /// Clerk's spelling: `first_factor`, `second_factor`, `multi_factor`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::FirstFactor => "first_factor",
            Self::SecondFactor => "second_factor",
            Self::MultiFactor => "multi_factor",
        }
    }

    /// Parses Clerk's spelling.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "first_factor" => Some(Self::FirstFactor),
            "second_factor" => Some(Self::SecondFactor),
            "multi_factor" => Some(Self::MultiFactor),
            _ => None,
        }
    }
}

/// Clerk's named reverification windows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Preset {
    /// `strict_mfa`: multi-factor within 10 minutes.
    StrictMfa,
    /// `strict`: second factor within 10 minutes.
    Strict,
    /// `moderate`: second factor within 60 minutes.
    Moderate,
    /// `lax`: second factor within 1440 minutes (a day).
    Lax,
}

impl Preset {
    /// Clerk's spelling: `strict_mfa`, `strict`, `moderate`, `lax`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::StrictMfa => "strict_mfa",
            Self::Strict => "strict",
            Self::Moderate => "moderate",
            Self::Lax => "lax",
        }
    }

    /// Parses Clerk's spelling.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "strict_mfa" => Some(Self::StrictMfa),
            "strict" => Some(Self::Strict),
            "moderate" => Some(Self::Moderate),
            "lax" => Some(Self::Lax),
            _ => None,
        }
    }

    /// The level and window this preset stands for.
    pub const fn window(self) -> Reverification {
        match self {
            Self::StrictMfa => Reverification::new(Level::MultiFactor, 10),
            Self::Strict => Reverification::new(Level::SecondFactor, 10),
            Self::Moderate => Reverification::new(Level::SecondFactor, 60),
            Self::Lax => Reverification::new(Level::SecondFactor, 1440),
        }
    }
}

/// A reverification window: `level` verified less than `after_minutes` ago.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Reverification {
    /// Which factors must be fresh.
    pub level: Level,
    /// How recent, in minutes (a factor of age equal to this is stale).
    pub after_minutes: u32,
}

impl Reverification {
    /// A window of `after_minutes` at `level`.
    pub const fn new(level: Level, after_minutes: u32) -> Self {
        Self {
            level,
            after_minutes,
        }
    }

    /// True when the session's factor ages satisfy this window.
    pub fn is_met_by(&self, claims: &Session) -> bool {
        let Some(age) = claims.factor_age() else {
            return false;
        };
        let (first, second) = (age.first_factor_minutes(), age.second_factor_minutes());
        let fresh = |age: Option<u32>| age.is_some_and(|a| self.after_minutes > a);
        match (self.level, first, second) {
            (_, None, None) => false,
            (Level::FirstFactor, ..) => fresh(first),
            (Level::SecondFactor | Level::MultiFactor, _, None) => fresh(first),
            (Level::SecondFactor, _, Some(_)) => fresh(second),
            (Level::MultiFactor, None, Some(_)) => false,
            (Level::MultiFactor, Some(_), Some(_)) => fresh(first) && fresh(second),
        }
    }

    /// Clerk's 403 body for a failed reverification, which Clerk's frontend
    /// SDKs read to open the re-verification dialog:
    /// `{"clerk_error":{"type":"forbidden","reason":"reverification-error",
    /// "metadata":{"reverification":{"level":..,"afterMinutes":..}}}}`.
    pub(crate) fn error_body(&self) -> Value {
        json!({
            "clerk_error": {
                "type": "forbidden",
                "reason": "reverification-error",
                "metadata": {
                    "reverification": {
                        "level": self.level.as_str(),
                        "afterMinutes": self.after_minutes,
                    }
                }
            }
        })
    }
}

impl From<Preset> for Reverification {
    fn from(p: Preset) -> Self {
        p.window()
    }
}
