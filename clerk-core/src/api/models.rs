//! The records the Backend API answers (and webhooks deliver): the fields
//! apps use, every one optional or defaulted (an explicit `null` reads as
//! absent). Unknown fields are ignored and an unknown status is kept as
//! `Other(..)`, so a field or value Clerk adds never fails a call or a
//! webhook. Metadata stays `serde_json::Value`, with
//! `public_metadata_as` to read it as your own type.

use serde::Deserialize;
use serde::de::{DeserializeOwned, Deserializer};
use serde_json::Value;

/// A string enum of Clerk's whose unknown values are kept, not refused.
macro_rules! open_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $v:ident = $s:literal),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
        #[non_exhaustive]
        pub enum $name {
            $($(#[$vm])* $v,)*
            /// A value this crate does not know (yet), as Clerk sent it.
            Other(String),
            /// Absent from the answer.
            #[default]
            Missing,
        }

        impl $name {
            /// The value as Clerk spells it (empty when missing).
            pub fn as_str(&self) -> &str {
                match self {
                    $(Self::$v => $s,)*
                    Self::Other(s) => s,
                    Self::Missing => "",
                }
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = Option::<String>::deserialize(d)?;
                Ok(match s.as_deref() {
                    None => Self::Missing,
                    $(Some($s) => Self::$v,)*
                    Some(_) => Self::Other(s.unwrap_or_default()),
                })
            }
        }
    };
}

open_enum! {
    /// A session's status (Clerk's `SessionStatus`).
    SessionStatus {
        /// Signed in.
        Active = "active",
        /// Signed in, with tasks to finish first (e.g. choose an organization).
        Pending = "pending",
        /// Signed out.
        Ended = "ended",
        /// Lifetime over.
        Expired = "expired",
        /// Removed from its client.
        Removed = "removed",
        /// Replaced by another session.
        Replaced = "replaced",
        /// Revoked (e.g. through the Backend API).
        Revoked = "revoked",
        /// Inactive too long.
        Abandoned = "abandoned",
    }
}

open_enum! {
    /// An organization invitation's status.
    InvitationStatus {
        /// Sent, not yet answered.
        Pending = "pending",
        /// Accepted: the user is a member.
        Accepted = "accepted",
        /// Revoked by an admin.
        Revoked = "revoked",
        /// Past its lifetime.
        Expired = "expired",
    }
}

open_enum! {
    /// A billing subscription's (or subscription item's) status.
    SubscriptionStatus {
        /// Paid and current.
        Active = "active",
        /// Payment failed; still in its grace period.
        PastDue = "past_due",
        /// Canceled; active until the period ends.
        Canceled = "canceled",
        /// Over.
        Ended = "ended",
        /// Checkout abandoned.
        Abandoned = "abandoned",
        /// Checkout not finished.
        Incomplete = "incomplete",
        /// Starts at the next period (items).
        Upcoming = "upcoming",
        /// Past its end (items).
        Expired = "expired",
    }
}

/// A Clerk user, with the fields apps use (unknown fields ignored).
#[derive(Debug, Clone, PartialEq, Deserialize, Default)]
#[serde(default)]
#[non_exhaustive]
pub struct User {
    /// `user_…`.
    pub id: String,
    /// Your id for the user.
    pub external_id: Option<String>,
    /// Username.
    pub username: Option<String>,
    /// First name.
    pub first_name: Option<String>,
    /// Last name.
    pub last_name: Option<String>,
    /// Profile image.
    pub image_url: Option<String>,
    /// Every email address.
    pub email_addresses: Vec<EmailAddress>,
    /// Which is primary.
    pub primary_email_address_id: Option<String>,
    /// Every phone number.
    pub phone_numbers: Vec<PhoneNumber>,
    /// Which is primary.
    pub primary_phone_number_id: Option<String>,
    /// Public metadata (often drives RBAC: `public_metadata.role`).
    pub public_metadata: Value,
    /// Private metadata.
    pub private_metadata: Value,
    /// Unsafe metadata.
    pub unsafe_metadata: Value,
    /// Any second factor enrolled.
    pub two_factor_enabled: bool,
    /// An authenticator app enrolled.
    pub totp_enabled: bool,
    /// Backup codes enrolled.
    pub backup_code_enabled: bool,
    /// Banned by an admin.
    pub banned: bool,
    /// Locked out.
    pub locked: bool,
    /// Created, ms since the epoch.
    pub created_at: Option<i64>,
    /// Updated, ms since the epoch.
    pub updated_at: Option<i64>,
    /// Last sign-in, ms since the epoch.
    pub last_sign_in_at: Option<i64>,
}

impl User {
    /// The primary email address.
    pub fn primary_email(&self) -> Option<&str> {
        let id = self.primary_email_address_id.as_deref()?;
        self.email_addresses
            .iter()
            .find(|e| e.id == id)
            .map(|e| e.email_address.as_str())
    }

    /// The primary phone number.
    pub fn primary_phone(&self) -> Option<&str> {
        let id = self.primary_phone_number_id.as_deref()?;
        self.phone_numbers
            .iter()
            .find(|p| p.id == id)
            .map(|p| p.phone_number.as_str())
    }

    /// First and last name joined, when any.
    pub fn full_name(&self) -> Option<String> {
        let parts: Vec<&str> = [self.first_name.as_deref(), self.last_name.as_deref()]
            .into_iter()
            .flatten()
            .filter(|s| !s.is_empty())
            .collect();
        (!parts.is_empty()).then(|| parts.join(" "))
    }

    /// Public metadata as your own type.
    ///
    /// # Errors
    /// When it does not fit `T`.
    pub fn public_metadata_as<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        T::deserialize(&self.public_metadata)
    }
}

/// A Clerk organization, with the fields apps use.
#[derive(Debug, Clone, PartialEq, Deserialize, Default)]
#[serde(default)]
#[non_exhaustive]
pub struct OrganizationRecord {
    /// `org_…`.
    pub id: String,
    /// Name.
    pub name: String,
    /// Slug.
    pub slug: Option<String>,
    /// Logo.
    pub image_url: Option<String>,
    /// The creator's user id.
    pub created_by: Option<String>,
    /// Members.
    pub members_count: Option<u64>,
    /// Membership limit.
    pub max_allowed_memberships: Option<u64>,
    /// Public metadata.
    pub public_metadata: Value,
    /// Private metadata.
    pub private_metadata: Value,
    /// Created, ms since the epoch.
    pub created_at: Option<i64>,
    /// Updated, ms since the epoch.
    pub updated_at: Option<i64>,
}

impl OrganizationRecord {
    /// Public metadata as your own type.
    ///
    /// # Errors
    /// When it does not fit `T`.
    pub fn public_metadata_as<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        T::deserialize(&self.public_metadata)
    }
}

/// An email address of a user.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
#[serde(default)]
#[non_exhaustive]
pub struct EmailAddress {
    /// `idn_...`.
    pub id: String,
    /// The address.
    pub email_address: String,
}

/// A phone number of a user.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
#[serde(default)]
#[non_exhaustive]
pub struct PhoneNumber {
    /// `idn_...`.
    pub id: String,
    /// The number, E.164.
    pub phone_number: String,
}

/// A deleted object: its id and `deleted: true` (a delete's answer, and
/// the data of a `*.deleted` webhook, which shows it as
/// [`EventData::Deleted`](crate::webhook::EventData::Deleted)).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
#[serde(default)]
pub(crate) struct DeletedObject {
    pub(crate) id: Option<String>,
    pub(crate) object: Option<String>,
}

/// A session.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
#[serde(default)]
#[non_exhaustive]
pub struct SessionData {
    /// `sess_...`.
    pub id: String,
    /// `user_...`.
    pub user_id: String,
    /// `client_...`.
    pub client_id: Option<String>,
    /// `active`, `ended`, `revoked`, ...
    pub status: SessionStatus,
    /// Last activity, ms since the epoch.
    pub last_active_at: Option<i64>,
    /// Expiry, ms since the epoch.
    pub expire_at: Option<i64>,
    /// Created, ms since the epoch.
    pub created_at: Option<i64>,
    /// Updated, ms since the epoch.
    pub updated_at: Option<i64>,
}

/// The public part of a member's user.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
#[serde(default)]
#[non_exhaustive]
pub struct PublicUserData {
    /// `user_...`.
    pub user_id: String,
    /// First name.
    pub first_name: Option<String>,
    /// Last name.
    pub last_name: Option<String>,
    /// Email or phone used to identify the user.
    pub identifier: Option<String>,
    /// Profile image.
    pub image_url: Option<String>,
}

/// An organization membership.
#[derive(Debug, Clone, PartialEq, Deserialize, Default)]
#[serde(default)]
#[non_exhaustive]
pub struct MembershipData {
    /// `orgmem_...`.
    pub id: String,
    /// Role, e.g. `org:admin`.
    pub role: String,
    /// The organization.
    pub organization: OrganizationRecord,
    /// The member.
    pub public_user_data: PublicUserData,
    /// Public metadata.
    pub public_metadata: Value,
    /// Private metadata.
    pub private_metadata: Value,
    /// Created, ms since the epoch.
    pub created_at: Option<i64>,
    /// Updated, ms since the epoch.
    pub updated_at: Option<i64>,
}

/// An organization invitation.
#[derive(Debug, Clone, PartialEq, Deserialize, Default)]
#[serde(default)]
#[non_exhaustive]
pub struct InvitationData {
    /// `orginv_...`.
    pub id: String,
    /// Invited address.
    pub email_address: String,
    /// `org_...`.
    pub organization_id: Option<String>,
    /// Role offered.
    pub role: Option<String>,
    /// `pending`, `accepted`, `revoked`, `expired`.
    pub status: InvitationStatus,
    /// Public metadata.
    pub public_metadata: Value,
    /// Private metadata.
    pub private_metadata: Value,
    /// Created, ms since the epoch.
    pub created_at: Option<i64>,
    /// Updated, ms since the epoch.
    pub updated_at: Option<i64>,
}

/// A billing plan (Clerk Billing), as session claims name it by `slug`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
#[serde(default)]
#[non_exhaustive]
pub struct Plan {
    /// `cplan_...`.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Slug, e.g. `pro` (what `Requirement::plan` checks).
    pub slug: String,
    /// The features the plan grants.
    pub features: Vec<Feature>,
}

/// A feature a plan grants.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
#[serde(default)]
#[non_exhaustive]
pub struct Feature {
    /// `cfeat_...`.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Slug, e.g. `export` (what `Requirement::feature` checks).
    pub slug: String,
}

/// One plan of a subscription, for one period.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
#[serde(default)]
#[non_exhaustive]
pub struct SubscriptionItem {
    /// `csubi_...`.
    pub id: String,
    /// Status of this item.
    pub status: SubscriptionStatus,
    /// The plan.
    pub plan: Option<Plan>,
    /// `month` or `annual`.
    pub plan_period: Option<String>,
    /// Period start, ms since the epoch.
    pub period_start: Option<i64>,
    /// Period end, ms since the epoch.
    pub period_end: Option<i64>,
}

/// A user's or an organization's billing subscription.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
#[serde(default)]
#[non_exhaustive]
pub struct Subscription {
    /// `csub_...`.
    pub id: String,
    /// Overall status.
    pub status: SubscriptionStatus,
    /// The paying user or organization.
    pub payer_id: Option<String>,
    /// Its plans.
    pub subscription_items: Vec<SubscriptionItem>,
    /// Created, ms since the epoch.
    pub created_at: Option<i64>,
    /// Updated, ms since the epoch.
    pub updated_at: Option<i64>,
}

impl Subscription {
    /// The slugs of the plans of items whose status is `active` (a
    /// canceled, past-due or upcoming item is not counted, even while its
    /// period runs).
    pub fn plan_slugs(&self) -> Vec<&str> {
        self.granted().map(|p| p.slug.as_str()).collect()
    }

    /// The slugs of every feature those plans grant, without repeats.
    pub fn feature_slugs(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for f in self.granted().flat_map(|p| &p.features) {
            if !out.contains(&f.slug.as_str()) {
                out.push(&f.slug);
            }
        }
        out
    }

    fn granted(&self) -> impl Iterator<Item = &Plan> {
        self.subscription_items
            .iter()
            .filter(|i| i.status == SubscriptionStatus::Active)
            .filter_map(|i| i.plan.as_ref())
    }
}
