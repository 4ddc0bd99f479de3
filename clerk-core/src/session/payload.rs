//! The payload's structure check and the claims read from it.

use crate::error::{Reason, VerifyError};
use crate::json::Fields;

/// Slots of the claims read into typed fields; every other member stays in
/// the payload bytes, checked but not parsed until asked for.
pub(crate) mod slot {
    pub(crate) const SUB: usize = 0;
    pub(crate) const SID: usize = 1;
    pub(crate) const ISS: usize = 2;
    pub(crate) const AZP: usize = 3;
    pub(crate) const AUD: usize = 4;
    pub(crate) const EXP: usize = 5;
    pub(crate) const NBF: usize = 6;
    pub(crate) const IAT: usize = 7;
    pub(crate) const STS: usize = 8;
    pub(crate) const V: usize = 9;
    pub(crate) const PLA: usize = 10;
    pub(crate) const FEA: usize = 11;
    pub(crate) const FVA: usize = 12;
    pub(crate) const ACT: usize = 13;
    pub(crate) const O: usize = 14;
    pub(crate) const ORG_ID: usize = 15;
    pub(crate) const ORG_ROLE: usize = 16;
    pub(crate) const ORG_SLUG: usize = 17;
    pub(crate) const ORG_PERMISSIONS: usize = 18;
    pub(crate) const COUNT: usize = 19;

    /// The claims verification itself reads: slots `SUB..=STS`; the others
    /// are checked then and read lazily.
    pub(crate) const VERIFIED: usize = STS + 1;

    /// Every claim read into a typed field.
    pub(crate) fn of(name: &str) -> Option<usize> {
        Some(match name {
            "sub" => SUB,
            "sid" => SID,
            "iss" => ISS,
            "azp" => AZP,
            "aud" => AUD,
            "exp" => EXP,
            "nbf" => NBF,
            "iat" => IAT,
            "v" => V,
            "sts" => STS,
            "pla" => PLA,
            "fea" => FEA,
            "fva" => FVA,
            "act" => ACT,
            "o" => O,
            "org_id" => ORG_ID,
            "org_role" => ORG_ROLE,
            "org_slug" => ORG_SLUG,
            "org_permissions" => ORG_PERMISSIONS,
            _ => return None,
        })
    }
}

/// A payload checked to be one JSON object without duplicate member names
/// (at any depth), with the claims this crate reads picked out.
pub(crate) type ClaimFields<'a> = Fields<'a, { slot::COUNT }>;

/// Checks the payload's structure (`token-invalid` unless it is one JSON
/// object without duplicate member names at any depth) and picks out the
/// claims verification needs. Organization, billing, factor-age and actor
/// claims are checked here but read only when first asked for, with
/// [`parse_all_claims`]: many requests never look at them.
pub(crate) fn parse_claims(payload: &[u8]) -> Result<ClaimFields<'_>, VerifyError> {
    Fields::parse_first(payload, slot::of, slot::VERIFIED).ok_or(VerifyError::new(
        Reason::TokenInvalid,
        "payload is not a JSON object without duplicate members",
    ))
}

/// Picks out every claim read into a typed field.
pub(crate) fn parse_all_claims(payload: &[u8]) -> Option<ClaimFields<'_>> {
    Fields::parse(payload, slot::of)
}
