//! `/v1/users`: Clerk's `UserApi` (`@clerk/backend`,
//! `src/api/endpoints/UserApi.ts`).

use reqwest::Method;
use serde_json::{Map, Value};

use super::{
    Api, ApiError, MembershipData, Metadata, Pages, Subscription, TotalCount, User, UserList,
    query_string,
};

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

impl Users<'_> {
    /// `GET /users/{id}` (uncached; [`Clerk::directory`](crate::Clerk::directory)
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

    /// `GET /users`, paginated; its [`Pages::total`] asks `/users/count`
    /// with the same filters (Clerk's list is a bare array).
    pub fn list(&self, list: &UserList) -> Pages<User> {
        let query = list.pairs();
        let count = count_path(&query);
        self.api
            .pages(Ok("/users".to_owned()), query)
            .with_count_path(count)
    }

    /// `GET /users/count`: how many users match the filters.
    ///
    /// # Errors
    /// See [`ApiError`].
    pub async fn count(&self, list: &UserList) -> Result<u64, ApiError> {
        let path = count_path(&list.pairs());
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

/// `/users/count` with a list's filters (an order means nothing to a count).
fn count_path(query: &[(String, String)]) -> String {
    let filters: Vec<_> = query
        .iter()
        .filter(|(n, _)| n != "order_by")
        .cloned()
        .collect();
    format!("/users/count{}", query_string(&filters))
}
