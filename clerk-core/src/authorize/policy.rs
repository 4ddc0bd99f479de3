//! Requirements named at the type level, for typed guard extractors.

use super::Requirement;

/// Names a [`Requirement`] at the type level, for the typed guard
/// extractors of the adapters (`Require<P>`). Declare one with
/// [`policy!`](crate::policy).
pub trait Policy: Send + Sync + 'static {
    /// The requirement (built once and kept).
    fn requirement() -> &'static Requirement;
}

/// Declares a zero-sized [`Policy`] type; the requirement is built once, on
/// first use.
///
/// ```
/// use clerk_core::{Policy, Preset, Requirement, policy};
///
/// policy!(pub StepUp = Requirement::reverification(Preset::Strict));
/// policy!(
///     /// Pro plan with MFA.
///     pub ProWithMfa = Requirement::plan("pro").and(Requirement::mfa())
/// );
/// assert!(matches!(StepUp::requirement(), Requirement::Reverification(_)));
/// ```
#[macro_export]
macro_rules! policy {
    ($(#[$meta:meta])* $vis:vis $name:ident = $requirement:expr) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, Default)]
        $vis struct $name;

        impl $crate::Policy for $name {
            fn requirement() -> &'static $crate::Requirement {
                static REQUIREMENT: ::std::sync::LazyLock<$crate::Requirement> =
                    ::std::sync::LazyLock::new(|| $requirement);
                &REQUIREMENT
            }
        }
    };
}
