//! Factor-verification age (`fva`).

use crate::json::Field;

/// Minutes since each factor was verified in this session (`fva`); `None`
/// for a factor never verified (`-1` in the token).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FactorAge {
    first: Option<u32>,
    second: Option<u32>,
}

impl FactorAge {
    /// Builds an age pair; `None` means never verified in this session.
    pub(crate) const fn new(first: Option<u32>, second: Option<u32>) -> Self {
        Self { first, second }
    }

    /// Minutes since the first factor (password, code, ...) was verified.
    pub const fn first_factor_minutes(self) -> Option<u32> {
        self.first
    }

    /// Minutes since the second factor (MFA) was verified; `None` when the
    /// session has no second factor.
    pub const fn second_factor_minutes(self) -> Option<u32> {
        self.second
    }

    /// The pair as Clerk writes it, with `-1` for "never".
    pub fn as_array(self) -> [i64; 2] {
        let f = |m: Option<u32>| m.map_or(-1, i64::from);
        [f(self.first), f(self.second)]
    }

    pub(super) fn parse(claim: &Field<'_>) -> Option<Self> {
        let Field::Array(items) = claim else {
            return None;
        };
        let [a, b] = items.as_slice() else {
            return None;
        };
        #[allow(
            clippy::float_cmp,
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss
        )]
        let age = |v: &Field<'_>| -> Option<Option<u32>> {
            match *v {
                Field::Num(-1.0) => Some(None),
                // Whole minutes only; the range check makes the cast exact.
                Field::Num(n) if n >= 0.0 && n <= f64::from(u32::MAX) && n.fract() == 0.0 => {
                    Some(Some(n as u32))
                }
                _ => None,
            }
        };
        Some(Self::new(age(a)?, age(b)?))
    }
}
