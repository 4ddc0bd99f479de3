//! The filters of the Backend API's list operations, typed as Clerk names
//! them (`@clerk/backend` `api/endpoints/UserApi.ts` `UserListParams`,
//! `OrganizationApi.ts` `GetOrganizationListParams`,
//! `GetOrganizationMembershipListParams`). A filter given more than once matches any of its
//! values, as Clerk's query arrays (sent as repeated parameters, as the
//! SDK sends them). Every list is a [`Pages`](super::Pages): start it at an
//! offset with [`Pages::starting_at`](super::Pages::starting_at).

/// The query pairs of a list, in the order they were given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Query(Vec<(String, String)>);

impl Query {
    fn push(&mut self, name: &str, value: &str) {
        self.0.push((name.to_owned(), value.to_owned()));
    }
}

/// Declares a typed list filter: its struct and one method per filter.
macro_rules! list {
    (
        $(#[$doc:meta])*
        $name:ident { $( $(#[$fdoc:meta])* $method:ident => $param:literal ),* $(,)? }
    ) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Default, PartialEq, Eq)]
        pub struct $name {
            query: Query,
        }

        impl $name {
            /// No filter: every item.
            pub fn new() -> Self {
                Self::default()
            }

            $(
                $(#[$fdoc])*
                #[must_use]
                pub fn $method(mut self, value: &str) -> Self {
                    self.query.push($param, value);
                    self
                }
            )*

            /// Order: a field with `+` (ascending) or `-` (descending), e.g.
            /// `-created_at` (Clerk's default).
            #[must_use]
            pub fn order_by(mut self, order: &str) -> Self {
                self.query.0.retain(|(n, _)| n != "order_by");
                self.query.push("order_by", order);
                self
            }

            pub(crate) fn pairs(&self) -> Vec<(String, String)> {
                self.query.0.clone()
            }
        }
    };
}

list!(
    /// Filters and order for listing and counting users (`GET /users`,
    /// `GET /users/count`).
    UserList {
        /// Users with this email address.
        email_address => "email_address",
        /// Users with this phone number.
        phone_number => "phone_number",
        /// Users with this username.
        username => "username",
        /// Users with this external id (your own id for them).
        external_id => "external_id",
        /// The user with this id.
        user_id => "user_id",
        /// Members of this organization.
        organization_id => "organization_id",
        /// Users with this Web3 wallet address.
        web3_wallet => "web3_wallet",
        /// Users whose email, phone, username, names or id contain `text`.
        query => "query",
        /// Users last active after this time (Unix milliseconds).
        last_active_at_after => "last_active_at_after",
        /// Users created after this time (Unix milliseconds).
        created_at_after => "created_at_after",
        /// Users created before this time (Unix milliseconds).
        created_at_before => "created_at_before",
    }
);

list!(
    /// Filters and order for listing organizations (`GET /organizations`).
    OrganizationList {
        /// Organizations whose id matches, or name or slug contains, `text`.
        query => "query",
        /// The organization with this id (up to 100).
        organization_id => "organization_id",
        /// Organizations this user is a member of.
        user_id => "user_id",
    }
);

impl OrganizationList {
    /// Each organization with its `members_count`.
    #[must_use]
    pub fn include_members_count(mut self) -> Self {
        self.query.push("include_members_count", "true");
        self
    }
}

list!(
    /// Filters and order for listing an organization's memberships
    /// (`GET /organizations/{id}/memberships`).
    MembershipList {
        /// Memberships of this user.
        user_id => "user_id",
        /// Memberships of users with this email address.
        email_address => "email_address",
        /// Memberships of users with this phone number.
        phone_number => "phone_number",
        /// Memberships of users with this username.
        username => "username",
        /// Memberships of users with this Web3 wallet address.
        web3_wallet => "web3_wallet",
        /// Memberships with this role (`org:admin`).
        role => "role",
        /// Memberships whose user's email, phone, username, names or id
        /// contain `text`.
        query => "query",
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_repeat_and_order_is_one() {
        let l = UserList::new()
            .email_address("a@x.test")
            .email_address("b@x.test")
            .order_by("-created_at")
            .order_by("+last_sign_in_at");
        assert_eq!(
            l.pairs(),
            [
                ("email_address".to_owned(), "a@x.test".to_owned()),
                ("email_address".to_owned(), "b@x.test".to_owned()),
                ("order_by".to_owned(), "+last_sign_in_at".to_owned()),
            ]
        );
    }
}
