//! `/v1/users`: Clerk's `UserApi` (`@clerk/backend`,
//! `src/api/endpoints/UserApi.ts`).

use reqwest::Method;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::{Api, ApiError, MembershipData, Metadata, Pages, Subscription, User, query_string};

/// The users of the instance: `clerk.api().users()`.
///
/// ```
/// use clerk_core::api::{UserFields, UserList};
/// # async fn f(clerk: &clerk_core::Clerk) -> Result<(), clerk_core::api::ApiError> {
/// let users = clerk.api().users();
/// let ada = users
///     .create(&UserFields::new().email_address("ada@example.com").first_name("Ada"))
///     .await?;
/// let found = users.count(&UserList::new().email_address("ada@example.com")).await?;
/// assert_eq!(found, 1);
/// // Billing: the plans and features of the user's subscription.
/// let subscription = users.subscription(&ada.id).await?;
/// let paid = subscription.plan_slugs().contains(&"pro");
/// # let _ = paid;
/// users.ban(&ada.id).await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Users<'a> {
    pub(super) api: &'a Api,
}

/// Filters and order for listing and counting users. Each filter but
/// `query` may be given more than once (any of the values matches), as
/// Clerk's query arrays.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserList {
    filters: Vec<(String, String)>,
    order_by: Option<String>,
}

impl UserList {
    /// Every user.
    pub fn new() -> Self {
        Self::default()
    }

    fn filter(mut self, name: &str, value: &str) -> Self {
        self.filters.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Users with this email address.
    #[must_use]
    pub fn email_address(self, email: &str) -> Self {
        self.filter("email_address", email)
    }

    /// Users with this phone number.
    #[must_use]
    pub fn phone_number(self, phone: &str) -> Self {
        self.filter("phone_number", phone)
    }

    /// Users with this username.
    #[must_use]
    pub fn username(self, username: &str) -> Self {
        self.filter("username", username)
    }

    /// Users with this external id (your own id for them).
    #[must_use]
    pub fn external_id(self, id: &str) -> Self {
        self.filter("external_id", id)
    }

    /// The user with this id.
    #[must_use]
    pub fn user_id(self, id: &str) -> Self {
        self.filter("user_id", id)
    }

    /// Members of this organization.
    #[must_use]
    pub fn organization_id(self, id: &str) -> Self {
        self.filter("organization_id", id)
    }

    /// Users whose email, phone, username, names or id contain `text`.
    #[must_use]
    pub fn query(self, text: &str) -> Self {
        self.filter("query", text)
    }

    /// Order: a field with `+` or `-`, e.g. `-created_at` (Clerk's default)
    /// or `+last_sign_in_at`.
    #[must_use]
    pub fn order_by(mut self, order: &str) -> Self {
        self.order_by = Some(order.to_owned());
        self
    }
}

/// The fields of a user to create or update; only what you set is sent.
/// Unset fields are left as they are by an update. `Debug` shows the names
/// of the fields set, never their values (a password, a TOTP secret).
#[derive(Clone, Default, PartialEq)]
pub struct UserFields {
    fields: Map<String, Value>,
}

impl std::fmt::Debug for UserFields {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.fields.keys()).finish()
    }
}

fn user(id: &str) -> Result<&str, ApiError> {
    super::id("user id", "user_", id)
}

impl UserFields {
    /// No fields yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Any field of Clerk's create/update user body (e.g.
    /// `skip_password_checks`, `totp_secret`, `created_at`).
    #[must_use]
    pub fn field(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.fields.insert(name.to_owned(), value.into());
        self
    }

    fn push(mut self, name: &str, value: &str) -> Self {
        match self.fields.get_mut(name) {
            Some(Value::Array(values)) => values.push(value.into()),
            _ => {
                self.fields
                    .insert(name.to_owned(), Value::from(vec![value]));
            }
        }
        self
    }

    /// An email address (create; each call adds one to `email_address[]`).
    /// To change a user's primary address, use [`UserFields::field`] with
    /// `primary_email_address_id`.
    #[must_use]
    pub fn email_address(self, email: &str) -> Self {
        self.push("email_address", email)
    }

    /// A phone number (create; each call adds one to `phone_number[]`).
    #[must_use]
    pub fn phone_number(self, phone: &str) -> Self {
        self.push("phone_number", phone)
    }

    /// Username.
    #[must_use]
    pub fn username(self, username: &str) -> Self {
        self.field("username", username)
    }

    /// Password (Clerk checks its strength unless `skip_password_checks`).
    #[must_use]
    pub fn password(self, password: &str) -> Self {
        self.field("password", password)
    }

    /// First name.
    #[must_use]
    pub fn first_name(self, name: &str) -> Self {
        self.field("first_name", name)
    }

    /// Last name.
    #[must_use]
    pub fn last_name(self, name: &str) -> Self {
        self.field("last_name", name)
    }

    /// Your own id for the user.
    #[must_use]
    pub fn external_id(self, id: &str) -> Self {
        self.field("external_id", id)
    }

    /// Metadata of a new user (create only: since API version 2026-05-12
    /// Clerk refuses metadata in an update; use
    /// [`Users::update_metadata`] or [`Users::replace_metadata`]).
    #[must_use]
    pub fn metadata(mut self, metadata: &Metadata) -> Self {
        if let Value::Object(m) = metadata.to_value() {
            self.fields.extend(m);
        }
        self
    }
}

#[derive(Deserialize)]
struct TotalCount {
    total_count: u64,
}

impl Users<'_> {
    /// `GET /users/{id}` (uncached; [`Clerk::users`](crate::Clerk::users)
    /// caches).
    ///
    /// # Errors
    /// See [`ApiError`]; a user that does not exist is `Clerk` with status
    /// 404.
    pub async fn get(&self, user_id: &str) -> Result<User, ApiError> {
        let id = user(user_id)?;
        self.api
            .call(Method::GET, &format!("/users/{id}"), None)
            .await
    }

    /// `GET /users`, paginated.
    pub fn list(&self, list: UserList) -> Pages<User> {
        let mut query = list.filters;
        if let Some(order) = list.order_by {
            query.push(("order_by".to_owned(), order));
        }
        self.api.pages(Ok("/users".to_owned()), query)
    }

    /// `GET /users/count`: how many users match the filters.
    ///
    /// # Errors
    /// See [`ApiError`].
    pub async fn count(&self, list: &UserList) -> Result<u64, ApiError> {
        let path = format!("/users/count{}", query_string(&list.filters));
        let c: TotalCount = self.api.call(Method::GET, &path, None).await?;
        Ok(c.total_count)
    }

    /// `POST /users`.
    ///
    /// # Errors
    /// See [`ApiError`]; a taken email is `Clerk` 422
    /// `form_identifier_exists`.
    pub async fn create(&self, fields: &UserFields) -> Result<User, ApiError> {
        let body = Value::Object(fields.fields.clone());
        self.api.call(Method::POST, "/users", Some(&body)).await
    }

    /// `PATCH /users/{id}`: sets the fields given.
    ///
    /// # Errors
    /// See [`ApiError`].
    pub async fn update(&self, user_id: &str, fields: &UserFields) -> Result<User, ApiError> {
        let id = user(user_id)?;
        let body = Value::Object(fields.fields.clone());
        self.api
            .call(Method::PATCH, &format!("/users/{id}"), Some(&body))
            .await
    }

    /// `PATCH /users/{id}/metadata`: deep-merges into the user's metadata,
    /// as Clerk's endpoint does (a key set to `null` is removed).
    ///
    /// # Errors
    /// See [`ApiError`].
    pub async fn update_metadata(
        &self,
        user_id: &str,
        metadata: &Metadata,
    ) -> Result<User, ApiError> {
        let id = user(user_id)?;
        self.api
            .metadata(Method::PATCH, &format!("/users/{id}/metadata"), metadata)
            .await
    }

    /// `PUT /users/{id}/metadata`: each kind given replaces the whole
    /// object of its kind (`{}` clears it); kinds not given stay.
    ///
    /// # Errors
    /// See [`ApiError`].
    pub async fn replace_metadata(
        &self,
        user_id: &str,
        metadata: &Metadata,
    ) -> Result<User, ApiError> {
        let id = user(user_id)?;
        self.api
            .metadata(Method::PUT, &format!("/users/{id}/metadata"), metadata)
            .await
    }

    /// `DELETE /users/{id}`.
    ///
    /// # Errors
    /// See [`ApiError`].
    pub async fn delete(&self, user_id: &str) -> Result<(), ApiError> {
        let id = user(user_id)?;
        self.api.delete(&format!("/users/{id}")).await
    }

    async fn post_action(&self, user_id: &str, action: &str) -> Result<User, ApiError> {
        let id = user(user_id)?;
        self.api
            .call(Method::POST, &format!("/users/{id}/{action}"), None)
            .await
    }

    /// `POST /users/{id}/ban`: signs the user out everywhere and keeps
    /// them out.
    ///
    /// # Errors
    /// See [`ApiError`].
    pub async fn ban(&self, user_id: &str) -> Result<User, ApiError> {
        self.post_action(user_id, "ban").await
    }

    /// `POST /users/{id}/unban`.
    ///
    /// # Errors
    /// See [`ApiError`].
    pub async fn unban(&self, user_id: &str) -> Result<User, ApiError> {
        self.post_action(user_id, "unban").await
    }

    /// `POST /users/{id}/lock`.
    ///
    /// # Errors
    /// See [`ApiError`].
    pub async fn lock(&self, user_id: &str) -> Result<User, ApiError> {
        self.post_action(user_id, "lock").await
    }

    /// `POST /users/{id}/unlock`.
    ///
    /// # Errors
    /// See [`ApiError`].
    pub async fn unlock(&self, user_id: &str) -> Result<User, ApiError> {
        self.post_action(user_id, "unlock").await
    }

    /// `DELETE /users/{id}/mfa`: removes every second factor (after
    /// support has verified the user some other way).
    ///
    /// # Errors
    /// See [`ApiError`].
    pub async fn disable_mfa(&self, user_id: &str) -> Result<(), ApiError> {
        let id = user(user_id)?;
        let _: Value = self
            .api
            .call(Method::DELETE, &format!("/users/{id}/mfa"), None)
            .await?;
        Ok(())
    }

    /// `GET /users/{id}/organization_memberships`, paginated.
    pub fn organization_memberships(&self, user_id: &str) -> Pages<MembershipData> {
        let path = user(user_id).map(|id| format!("/users/{id}/organization_memberships"));
        self.api.pages(path, Vec::new())
    }

    /// `GET /users/{id}/billing/subscription`.
    ///
    /// # Errors
    /// See [`ApiError`]; no subscription is `Clerk` 404.
    pub async fn subscription(&self, user_id: &str) -> Result<Subscription, ApiError> {
        let id = user(user_id)?;
        self.api
            .call(
                Method::GET,
                &format!("/users/{id}/billing/subscription"),
                None,
            )
            .await
    }
}
