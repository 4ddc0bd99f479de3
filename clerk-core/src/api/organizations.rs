//! `/v1/organizations`: Clerk's `OrganizationApi` (`@clerk/backend`,
//! `src/api/endpoints/OrganizationApi.ts`).

use reqwest::Method;
use serde_json::{Map, Value, json};

use super::{
    Api, ApiError, InvitationData, InvitationStatus, MembershipData, MembershipList, Metadata,
    OrganizationList, OrganizationRecord, Pages, Subscription, segment,
};

/// Organizations, with their members and invitations:
/// `clerk.api().organizations()`.
///
/// ```
/// use clerk_core::api::{NewInvitation, OrganizationFields};
/// # async fn f(clerk: &clerk_core::Clerk) -> Result<(), clerk_core::api::ApiError> {
/// let orgs = clerk.api().organizations();
/// let acme = orgs
///     .create(&OrganizationFields::new().name("Acme").created_by("user_1"))
///     .await?;
/// orgs.add_member(&acme.id, "user_2", "org:member").await?;
/// orgs.update_member_role(&acme.id, "user_2", "org:admin").await?;
/// orgs.invite(&acme.id, &NewInvitation::new("eve@example.com", "org:member")).await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Organizations<'a> {
    pub(super) api: &'a Api,
}

/// The fields of an organization to create or update; only what you set
/// is sent.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OrganizationFields {
    fields: Map<String, Value>,
}

impl OrganizationFields {
    /// No fields yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Any field of Clerk's create/update organization body.
    #[must_use]
    pub fn field(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.fields.insert(name.to_owned(), value.into());
        self
    }

    /// Name (required to create).
    #[must_use]
    pub fn name(self, name: &str) -> Self {
        self.field("name", name)
    }

    /// Slug (unique; Clerk derives one from the name when absent).
    #[must_use]
    pub fn slug(self, slug: &str) -> Self {
        self.field("slug", slug)
    }

    /// The user who creates it, made its first admin (create).
    #[must_use]
    pub fn created_by(self, user_id: &str) -> Self {
        self.field("created_by", user_id)
    }

    /// The most members it may have (0: the instance's default).
    #[must_use]
    pub fn max_allowed_memberships(self, n: u64) -> Self {
        self.field("max_allowed_memberships", n)
    }

    /// Metadata of a new organization (create only: since API version
    /// 2026-05-12 Clerk refuses metadata in an update; use
    /// [`Organizations::update_metadata`]).
    #[must_use]
    pub fn metadata(mut self, metadata: &Metadata) -> Self {
        if let Value::Object(m) = metadata.to_value() {
            self.fields.extend(m);
        }
        self
    }
}

/// An invitation to send: to whom, with which role.
#[derive(Debug, Clone, PartialEq)]
pub struct NewInvitation {
    fields: Map<String, Value>,
}

impl NewInvitation {
    /// Invites `email` as `role` (e.g. `org:member`).
    pub fn new(email: &str, role: &str) -> Self {
        let mut fields = Map::new();
        fields.insert("email_address".to_owned(), email.into());
        fields.insert("role".to_owned(), role.into());
        Self { fields }
    }

    /// The user sending the invitation (`inviter_user_id`).
    #[must_use]
    pub fn inviter(self, user_id: &str) -> Self {
        self.field("inviter_user_id", user_id)
    }

    /// Days until the invitation expires (`expires_in_days`; Clerk's
    /// default is 30).
    #[must_use]
    pub fn expires_in_days(self, days: u32) -> Self {
        self.field("expires_in_days", days)
    }

    /// Where the invited user lands after accepting (`redirect_url`).
    #[must_use]
    pub fn redirect_url(self, url: &str) -> Self {
        self.field("redirect_url", url)
    }

    /// Any other field of Clerk's body (`public_metadata`,
    /// `private_metadata`, ...).
    #[must_use]
    pub fn field(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.fields.insert(name.to_owned(), value.into());
        self
    }
}

fn org(id_or_slug: &str) -> Result<&str, ApiError> {
    segment("organization id", id_or_slug)
}

impl Organizations<'_> {
    /// `GET /organizations/{id or slug}`.
    ///
    /// # Errors
    /// See [`ApiError`].
    pub async fn get(&self, id_or_slug: &str) -> Result<OrganizationRecord, ApiError> {
        let id = org(id_or_slug)?;
        self.api
            .call(Method::GET, &format!("/organizations/{id}"), None)
            .await
    }

    /// `GET /organizations`, paginated, with `list`'s filters.
    pub fn list(&self, list: &OrganizationList) -> Pages<OrganizationRecord> {
        self.api
            .pages(Ok("/organizations".to_owned()), list.pairs())
    }

    /// `POST /organizations`.
    ///
    /// # Errors
    /// See [`ApiError`].
    pub async fn create(
        &self,
        fields: &OrganizationFields,
    ) -> Result<OrganizationRecord, ApiError> {
        let body = Value::Object(fields.fields.clone());
        self.api
            .call(Method::POST, "/organizations", Some(&body))
            .await
    }

    /// `PATCH /organizations/{id}`.
    ///
    /// # Errors
    /// See [`ApiError`].
    pub async fn update(
        &self,
        org_id: &str,
        fields: &OrganizationFields,
    ) -> Result<OrganizationRecord, ApiError> {
        let id = org(org_id)?;
        let body = Value::Object(fields.fields.clone());
        self.api
            .call(Method::PATCH, &format!("/organizations/{id}"), Some(&body))
            .await
    }

    /// `PATCH /organizations/{id}/metadata`: deep-merges, as Clerk does.
    ///
    /// # Errors
    /// See [`ApiError`].
    pub async fn update_metadata(
        &self,
        org_id: &str,
        metadata: &Metadata,
    ) -> Result<OrganizationRecord, ApiError> {
        let id = org(org_id)?;
        self.api
            .metadata(
                Method::PATCH,
                &format!("/organizations/{id}/metadata"),
                metadata,
            )
            .await
    }

    /// `DELETE /organizations/{id}`.
    ///
    /// # Errors
    /// See [`ApiError`].
    pub async fn delete(&self, org_id: &str) -> Result<(), ApiError> {
        let id = org(org_id)?;
        self.api.delete(&format!("/organizations/{id}")).await
    }

    /// `GET /organizations/{id}/memberships`, paginated, with `list`'s
    /// filters.
    pub fn memberships(&self, org_id: &str, list: &MembershipList) -> Pages<MembershipData> {
        let path = org(org_id).map(|id| format!("/organizations/{id}/memberships"));
        self.api.pages(path, list.pairs())
    }

    /// `POST /organizations/{id}/memberships`: adds a user with `role`.
    ///
    /// # Errors
    /// See [`ApiError`].
    pub async fn add_member(
        &self,
        org_id: &str,
        user_id: &str,
        role: &str,
    ) -> Result<MembershipData, ApiError> {
        let id = org(org_id)?;
        let user = super::id("user id", "user_", user_id)?;
        self.api
            .call(
                Method::POST,
                &format!("/organizations/{id}/memberships"),
                Some(&json!({"user_id": user, "role": role})),
            )
            .await
    }

    /// `PATCH /organizations/{id}/memberships/{user_id}`: changes a
    /// member's role.
    ///
    /// # Errors
    /// See [`ApiError`].
    pub async fn update_member_role(
        &self,
        org_id: &str,
        user_id: &str,
        role: &str,
    ) -> Result<MembershipData, ApiError> {
        let id = org(org_id)?;
        let user = super::id("user id", "user_", user_id)?;
        self.api
            .call(
                Method::PATCH,
                &format!("/organizations/{id}/memberships/{user}"),
                Some(&json!({"role": role})),
            )
            .await
    }

    /// `DELETE /organizations/{id}/memberships/{user_id}`: removes a member
    /// (answers the removed membership).
    ///
    /// # Errors
    /// See [`ApiError`].
    pub async fn remove_member(
        &self,
        org_id: &str,
        user_id: &str,
    ) -> Result<MembershipData, ApiError> {
        let id = org(org_id)?;
        let user = super::id("user id", "user_", user_id)?;
        self.api
            .call(
                Method::DELETE,
                &format!("/organizations/{id}/memberships/{user}"),
                None,
            )
            .await
    }

    /// `POST /organizations/{id}/invitations`.
    ///
    /// # Errors
    /// See [`ApiError`].
    pub async fn invite(
        &self,
        org_id: &str,
        invitation: &NewInvitation,
    ) -> Result<InvitationData, ApiError> {
        let id = org(org_id)?;
        let body = Value::Object(invitation.fields.clone());
        self.api
            .call(
                Method::POST,
                &format!("/organizations/{id}/invitations"),
                Some(&body),
            )
            .await
    }

    /// `GET /organizations/{id}/invitations`, paginated: those with any
    /// of `statuses`, or all when it is empty (Clerk's
    /// `GetOrganizationInvitationListParams` has no other filter:
    /// `OrganizationApi.ts`).
    pub fn invitations(
        &self,
        org_id: &str,
        statuses: &[InvitationStatus],
    ) -> Pages<InvitationData> {
        let path = org(org_id).map(|id| format!("/organizations/{id}/invitations"));
        let query = statuses
            .iter()
            .map(InvitationStatus::as_str)
            .filter(|s| !s.is_empty())
            .map(|s| ("status".to_owned(), s.to_owned()))
            .collect();
        self.api.pages(path, query)
    }

    /// `POST /organizations/{id}/invitations/{invitation_id}/revoke`;
    /// `requesting_user_id` is the admin revoking it, when known.
    ///
    /// # Errors
    /// See [`ApiError`].
    pub async fn revoke_invitation(
        &self,
        org_id: &str,
        invitation_id: &str,
        requesting_user_id: Option<&str>,
    ) -> Result<InvitationData, ApiError> {
        let id = org(org_id)?;
        let inv = super::id("invitation id", "orginv_", invitation_id)?;
        let body = match requesting_user_id {
            Some(u) => Some(json!({"requesting_user_id": super::id("user id", "user_", u)?})),
            None => None,
        };
        self.api
            .call(
                Method::POST,
                &format!("/organizations/{id}/invitations/{inv}/revoke"),
                body.as_ref(),
            )
            .await
    }

    /// `GET /organizations/{id}/billing/subscription`.
    ///
    /// # Errors
    /// See [`ApiError`]; no subscription is `Clerk` 404.
    pub async fn subscription(&self, org_id: &str) -> Result<Subscription, ApiError> {
        let id = org(org_id)?;
        self.api
            .call(
                Method::GET,
                &format!("/organizations/{id}/billing/subscription"),
                None,
            )
            .await
    }
}
