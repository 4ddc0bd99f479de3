//! The extractor types every adapter exports, declared once so that their
//! names, fields and meanings cannot drift apart between frameworks. Each
//! adapter invokes [`__adapter_types!`](crate::__adapter_types) and then
//! implements its framework's extractor traits for them (the orphan rule
//! wants the types local to the adapter).
//!
//! Not part of the public API: items only the adapters (clerk-tower,
//! clerk-axum, clerk-actix) need, which may change in any release.

pub use crate::auth::DebugHeaders;
pub use crate::browser::proxy_body::{BodySender, ChannelBody, channel_body};
pub use crate::clerk::{InstanceRule, pick_instance};
pub use crate::request::WithPeer;

/// Declares `ClerkRejection`, `Auth`, `Session`, `Require<P>`, `Claims<T>`,
/// `Machine`, `Principal` and `CurrentUser` in the invoking crate; `$layer`
/// is the intra-doc path of the adapter's authenticating layer.
#[doc(hidden)]
#[macro_export]
macro_rules! __adapter_types {
    (layer = $layer:literal) => {
        #[doc = concat!(
            "Why an extractor refused a request: core's [`Refusal`](clerk_core::Refusal) (401 / 403 / reverification 403 / 503, a webhook's 400 or 413, or a 500 when [`",
            $layer, "`] is missing), answered as core made it. The same name and meaning in ",
            "clerk-axum and clerk-actix."
        )]
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct ClerkRejection(pub $crate::Refusal);

        impl ::std::convert::From<$crate::Refusal> for ClerkRejection {
            fn from(refusal: $crate::Refusal) -> Self {
                Self(refusal)
            }
        }

        impl ::std::fmt::Display for ClerkRejection {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                ::std::fmt::Display::fmt(&self.0, f)
            }
        }

        impl ::std::error::Error for ClerkRejection {}

        #[doc = concat!(
            "The authentication outcome, signed in or not. Never rejects (except with a 500 ",
            "when [`", $layer, "`] is missing)."
        )]
        #[derive(Debug, Clone)]
        pub struct Auth(pub $crate::Auth);

        /// A signed-in session; 401 when signed out (503 when no key is
        /// available). `Option<Session>` accepts both.
        #[derive(Debug, Clone)]
        pub struct Session(pub ::std::sync::Arc<$crate::Session>);

        /// A signed-in session that satisfies `P`'s requirement (see
        /// `policy!`): 401 when signed out, 403 when not allowed, 403 with
        /// Clerk's reverification body when only a step-up is missing, 503
        /// when a requirement on the user's record cannot be checked.
        #[derive(Debug, Clone)]
        pub struct Require<P>(
            pub ::std::sync::Arc<$crate::Session>,
            pub ::std::marker::PhantomData<P>,
        );

        /// Your custom session claims (e.g. from a session-token template),
        /// deserialized from the verified token: 401 when signed out, 403
        /// (`requirement-not-met`) when the claims do not fit `T`.
        #[derive(Debug, Clone)]
        pub struct Claims<T>(pub T);

        /// A verified machine token (API key, M2M or OAuth); 401 when signed
        /// out, `token-type-mismatch` for a session token. The layer must
        /// accept machine tokens (`Clerk::accepting`).
        #[derive(Debug, Clone)]
        pub struct Machine(pub ::std::sync::Arc<$crate::MachineAuth>);

        /// A signed-in user or a verified machine; 401 when signed out.
        #[derive(Debug, Clone)]
        pub enum Principal {
            /// A user's session.
            User(::std::sync::Arc<$crate::Session>),
            /// A machine token.
            Machine(::std::sync::Arc<$crate::MachineAuth>),
        }

        /// The signed-in user's Backend API record (Clerk's `currentUser()`),
        /// cached: 401 when signed out, 503 when the Backend API cannot be
        /// reached and nothing is cached.
        #[derive(Debug, Clone)]
        pub struct CurrentUser(pub ::std::sync::Arc<$crate::api::User>);

        $crate::__adapter_types!(@deref Auth => $crate::Auth);
        $crate::__adapter_types!(@deref Session => $crate::Session);
        $crate::__adapter_types!(@deref Machine => $crate::MachineAuth);
        $crate::__adapter_types!(@deref CurrentUser => $crate::api::User);

        impl<P> ::std::ops::Deref for Require<P> {
            type Target = $crate::Session;

            fn deref(&self) -> &$crate::Session {
                &self.0
            }
        }
    };
    (@deref $name:ident => $target:ty) => {
        impl ::std::ops::Deref for $name {
            type Target = $target;

            fn deref(&self) -> &$target {
                &self.0
            }
        }
    };
}
