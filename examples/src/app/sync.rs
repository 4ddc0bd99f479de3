//! A local users table kept in sync with Clerk, the way that loses nothing:
//! webhooks apply each event in one transaction, idempotent on the
//! delivery id (`svix-id`), ignoring any record older than the row it
//! would change (`updated_at`); deleted rows stay as tombstones so a late
//! or replayed event never brings them back; and a backfill
//! ([`UserStore::backfill`], the `sync-users` binary) pages through the
//! Backend API's users with the same rule, so it is safe to run while
//! webhooks arrive.
//!
//! SQLite through `sqlx` (bundled, no compile-time database); the schema
//! is `examples/migrations/`.

use std::str::FromStr;
use std::time::{SystemTime, UNIX_EPOCH};

use clerk_core::api::{Api, ApiError, MembershipData, OrganizationRecord, User, UserList};
use clerk_core::webhook::{EventData, WebhookEvent};
use sqlx::Row;
use sqlx::migrate::{Migration, MigrationType};
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection, SqlitePool, SqlitePoolOptions};

/// `examples/migrations/`, built into the binary (a deployed binary needs
/// no source tree).
#[derive(Debug)]
struct Embedded;

impl<'s> sqlx::migrate::MigrationSource<'s> for Embedded {
    fn resolve(
        self,
    ) -> futures_core_compat::BoxFuture<'s, Result<Vec<Migration>, sqlx::error::BoxDynError>> {
        Box::pin(async {
            Ok(vec![Migration::new(
                1,
                "users".into(),
                MigrationType::Simple,
                include_str!("../../migrations/0001_users.sql").into(),
                false,
            )])
        })
    }
}

/// `futures_core::future::BoxFuture`, spelled out (no extra dependency).
mod futures_core_compat {
    pub(super) type BoxFuture<'a, T> =
        std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;
}

/// The database of the example apps when `DATABASE_URL` is not set.
pub const DEFAULT_DATABASE_URL: &str = "sqlite:clerk-example.db";

/// The synced tables (users, organizations, memberships, deliveries).
#[derive(Debug, Clone)]
pub struct UserStore {
    pool: SqlitePool,
}

/// What applying an event did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// The row changed.
    Changed,
    /// This delivery id was applied before: nothing done.
    Duplicate,
    /// Older than the row (or the row is deleted): nothing changed, the
    /// delivery is recorded.
    Stale,
    /// An event this table does not keep: recorded only.
    Ignored,
}

/// One user row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRow {
    /// `user_…`.
    pub id: String,
    /// Primary email.
    pub primary_email: Option<String>,
    /// First name.
    pub first_name: Option<String>,
    /// Public metadata, as JSON text.
    pub public_metadata: String,
    /// Banned.
    pub banned: bool,
    /// Clerk's `updated_at` of the record the row holds (ms).
    pub updated_at: i64,
    /// Deleted at Clerk (a tombstone).
    pub deleted: bool,
}

/// Why a backfill stopped.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// The Backend API failed.
    #[error("Backend API: {0}")]
    Api(#[from] ApiError),
    /// The database failed.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// An event of a kind the tables keep whose data could not be read:
    /// not recorded as applied, so Clerk delivers it again (and the
    /// backfill repairs users meanwhile).
    #[error("{0} event data could not be read")]
    Undecodable(String),
}

/// What a backfill did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Backfill {
    /// Users read from the Backend API.
    pub seen: u64,
    /// Rows written (new, or newer than the row).
    pub changed: u64,
    /// Rows found deleted at Clerk (tombstoned).
    pub deleted: u64,
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

impl UserStore {
    /// Opens (creating when missing) the database at `url` (e.g.
    /// `sqlite:app.db`, `sqlite::memory:`) and runs the migrations.
    ///
    /// # Errors
    /// When the URL is not SQLite's, the file cannot be opened, or a
    /// migration fails.
    pub async fn open(url: &str) -> Result<Self, sqlx::Error> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .foreign_keys(true);
        let memory = url.contains(":memory:") || url.contains("mode=memory");
        let pool = if memory {
            // An in-memory database lives as long as a connection to it:
            // keep one open for the pool's life.
            SqlitePoolOptions::new()
                .min_connections(1)
                .max_connections(if url.contains("cache=shared") { 2 } else { 1 })
                .idle_timeout(None)
                .max_lifetime(None)
                .connect_with(options)
                .await?
        } else {
            SqlitePoolOptions::new()
                .max_connections(4)
                .connect_with(options)
                .await?
        };
        sqlx::migrate::Migrator::new(Embedded)
            .await?
            .run(&pool)
            .await?;
        Ok(Self { pool })
    }

    /// The pool (for your own queries).
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Applies a verified webhook event in one transaction: all of it or
    /// none of it, the delivery id recorded with it.
    ///
    /// # Errors
    /// A database error, or data of a kept kind that cannot be read:
    /// answer 5xx so Clerk delivers the event again.
    pub async fn apply(&self, event: &WebhookEvent) -> Result<Applied, SyncError> {
        let mut tx = self.pool.begin().await?;
        let applied = apply_in(&mut tx, event).await?;
        tx.commit().await?;
        Ok(applied)
    }

    /// Writes a user record from the Backend API unless the row is newer
    /// or deleted. True when the row changed.
    ///
    /// # Errors
    /// A database error.
    pub async fn upsert_user(&self, user: &User) -> Result<bool, sqlx::Error> {
        let mut conn = self.pool.acquire().await?;
        upsert_user(&mut conn, user).await
    }

    /// Pages through every user of the instance (oldest first, `page_size`
    /// a page) and upserts each: what a service that missed events runs to
    /// catch up.
    ///
    /// # Errors
    /// The first Backend API or database error; rows written before it
    /// stay (each is correct on its own), so run it again.
    pub async fn backfill(&self, api: &Api, page_size: u32) -> Result<Backfill, SyncError> {
        let mut pages = api
            .users()
            .list(&UserList::new().order_by("+created_at"))
            .page_size(page_size);
        let mut report = Backfill::default();
        let mut listed = std::collections::HashSet::new();
        while let Some(page) = pages.next_page().await {
            for user in page? {
                report.seen += 1;
                if self.upsert_user(&user).await? {
                    report.changed += 1;
                }
                listed.insert(user.id);
            }
        }
        // Rows the list did not have: deleted while no webhook arrived, or
        // skipped when a deletion shifted the pages. Ask for each: 404 is
        // a deletion (tombstoned), a record is upserted.
        let live: Vec<String> = sqlx::query_scalar("SELECT id FROM users WHERE deleted = 0")
            .fetch_all(&self.pool)
            .await?;
        for id in live.into_iter().filter(|id| !listed.contains(id)) {
            match api.users().get(&id).await {
                Ok(user) => {
                    if self.upsert_user(&user).await? {
                        report.changed += 1;
                    }
                }
                Err(e) if e.status() == Some(404) => {
                    let mut conn = self.pool.acquire().await?;
                    if tombstone(&mut conn, "users", &id, now_ms()).await? {
                        report.deleted += 1;
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(report)
    }

    /// The row of user `id`, deleted or not.
    ///
    /// # Errors
    /// A database error.
    pub async fn user(&self, id: &str) -> Result<Option<UserRow>, sqlx::Error> {
        let row = sqlx::query(
            "SELECT id, primary_email, first_name, public_metadata, banned, updated_at, deleted \
             FROM users WHERE id = ?",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(UserRow {
                id: r.try_get("id")?,
                primary_email: r.try_get("primary_email")?,
                first_name: r.try_get("first_name")?,
                public_metadata: r.try_get("public_metadata")?,
                banned: r.try_get("banned")?,
                updated_at: r.try_get("updated_at")?,
                deleted: r.try_get("deleted")?,
            })
        })
        .transpose()
    }

    /// How many rows `table` holds that are not deleted (`users`,
    /// `organizations`, `memberships`), and how many deliveries were
    /// applied (`webhook_deliveries`).
    ///
    /// # Errors
    /// A database error, or an unknown table.
    pub async fn count(&self, table: &str) -> Result<i64, sqlx::Error> {
        let sql = match table {
            "users" => "SELECT COUNT(*) FROM users WHERE deleted = 0",
            "organizations" => "SELECT COUNT(*) FROM organizations WHERE deleted = 0",
            "memberships" => "SELECT COUNT(*) FROM memberships WHERE deleted = 0",
            "webhook_deliveries" => "SELECT COUNT(*) FROM webhook_deliveries",
            _ => return Err(sqlx::Error::RowNotFound),
        };
        sqlx::query_scalar(sql).fetch_one(&self.pool).await
    }
}

/// The event types the tables keep (Clerk's webhook catalogue:
/// <https://clerk.com/docs/webhooks/overview#supported-webhook-events>).
const KEPT: [&str; 9] = [
    "user.created",
    "user.updated",
    "user.deleted",
    "organization.created",
    "organization.updated",
    "organization.deleted",
    "organizationMembership.created",
    "organizationMembership.updated",
    "organizationMembership.deleted",
];

/// Applies `event` on `conn` (inside the caller's transaction): records the
/// delivery, then changes the row its data names. Public so a test can
/// stop between the statements and the commit, as a crash would.
///
/// # Errors
/// See [`UserStore::apply`].
pub async fn apply_in(
    conn: &mut SqliteConnection,
    event: &WebhookEvent,
) -> Result<Applied, SyncError> {
    let first = sqlx::query(
        "INSERT INTO webhook_deliveries (delivery_id, kind, applied_at) VALUES (?, ?, ?) \
         ON CONFLICT (delivery_id) DO NOTHING",
    )
    .bind(&event.delivery_id)
    .bind(&event.kind)
    .bind(now_ms())
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if first == 0 {
        return Ok(Applied::Duplicate);
    }
    // Only the exact event types the tables keep may be refused as
    // undecodable: an event type Clerk adds later (under `user.` or any
    // other prefix) is acknowledged, or svix would redeliver it for days
    // and could disable the endpoint, stopping `user.deleted` too.
    if !KEPT.contains(&event.kind.as_str()) {
        return Ok(Applied::Ignored);
    }
    if matches!(event.data, EventData::Other(_)) {
        return Err(SyncError::Undecodable(event.kind.clone()));
    }
    // A deletion's own time: the event's (deleted objects carry none).
    let at = event.timestamp.unwrap_or(0);
    let changed = match (&event.data, event.kind.as_str()) {
        (EventData::User(u), "user.created" | "user.updated") => upsert_user(conn, u).await?,
        (EventData::Deleted { id, .. }, "user.deleted") => {
            let id = id.as_deref().unwrap_or_default();
            sqlx::query("UPDATE memberships SET deleted = 1 WHERE user_id = ?")
                .bind(id)
                .execute(&mut *conn)
                .await?;
            tombstone(conn, "users", id, at).await?
        }
        (EventData::Organization(o), "organization.created" | "organization.updated") => {
            upsert_org(conn, o).await?
        }
        (EventData::Deleted { id, .. }, "organization.deleted") => {
            let id = id.as_deref().unwrap_or_default();
            sqlx::query("UPDATE memberships SET deleted = 1 WHERE organization_id = ?")
                .bind(id)
                .execute(&mut *conn)
                .await?;
            tombstone(conn, "organizations", id, at).await?
        }
        (EventData::Deleted { id, .. }, "organizationMembership.deleted") => {
            let id = id.as_deref().unwrap_or_default();
            tombstone(conn, "memberships", id, at).await?
        }
        (EventData::Membership(m), "organizationMembership.deleted") => {
            let at = at.max(m.updated_at.unwrap_or(0));
            tombstone(conn, "memberships", &m.id, at).await?
        }
        (
            EventData::Membership(m),
            "organizationMembership.created" | "organizationMembership.updated",
        ) => upsert_membership(conn, m).await?,
        // A kept type whose data is of another kept shape (a
        // `user.updated` whose data says `deleted`): nothing to change.
        _ => return Ok(Applied::Ignored),
    };
    Ok(if changed {
        Applied::Changed
    } else {
        Applied::Stale
    })
}

async fn upsert_user(conn: &mut SqliteConnection, u: &User) -> Result<bool, sqlx::Error> {
    let rows = sqlx::query(
        "INSERT INTO users (id, primary_email, first_name, last_name, public_metadata, banned, updated_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?) \
         ON CONFLICT (id) DO UPDATE SET primary_email = excluded.primary_email, \
           first_name = excluded.first_name, last_name = excluded.last_name, \
           public_metadata = excluded.public_metadata, banned = excluded.banned, \
           updated_at = excluded.updated_at \
         WHERE users.deleted = 0 AND excluded.updated_at >= users.updated_at",
    )
    .bind(&u.id)
    .bind(u.primary_email())
    .bind(&u.first_name)
    .bind(&u.last_name)
    .bind(u.public_metadata.to_string())
    .bind(u.banned)
    .bind(u.updated_at.unwrap_or(0))
    .execute(&mut *conn)
    .await?;
    Ok(rows.rows_affected() > 0)
}

async fn upsert_org(
    conn: &mut SqliteConnection,
    o: &OrganizationRecord,
) -> Result<bool, sqlx::Error> {
    let rows = sqlx::query(
        "INSERT INTO organizations (id, name, slug, public_metadata, updated_at) VALUES (?, ?, ?, ?, ?) \
         ON CONFLICT (id) DO UPDATE SET name = excluded.name, slug = excluded.slug, \
           public_metadata = excluded.public_metadata, updated_at = excluded.updated_at \
         WHERE organizations.deleted = 0 AND excluded.updated_at >= organizations.updated_at",
    )
    .bind(&o.id)
    .bind(&o.name)
    .bind(&o.slug)
    .bind(o.public_metadata.to_string())
    .bind(o.updated_at.unwrap_or(0))
    .execute(&mut *conn)
    .await?;
    Ok(rows.rows_affected() > 0)
}

async fn upsert_membership(
    conn: &mut SqliteConnection,
    m: &MembershipData,
) -> Result<bool, sqlx::Error> {
    let rows = sqlx::query(
        // Never for a user or organization already deleted: a late event
        // must not bring their memberships back.
        "INSERT INTO memberships (id, organization_id, user_id, role, updated_at) \
         SELECT ?1, ?2, ?3, ?4, ?5 WHERE NOT EXISTS \
           (SELECT 1 FROM users WHERE id = ?3 AND deleted = 1) \
           AND NOT EXISTS (SELECT 1 FROM organizations WHERE id = ?2 AND deleted = 1) \
         ON CONFLICT (id) DO UPDATE SET role = excluded.role, updated_at = excluded.updated_at \
         WHERE memberships.deleted = 0 AND excluded.updated_at >= memberships.updated_at",
    )
    .bind(&m.id)
    .bind(&m.organization.id)
    .bind(&m.public_user_data.user_id)
    .bind(&m.role)
    .bind(m.updated_at.unwrap_or(0))
    .execute(&mut *conn)
    .await?;
    Ok(rows.rows_affected() > 0)
}

/// Marks a row deleted (creating the tombstone when the row was never
/// seen), whatever came before: ids are never reused.
async fn tombstone(
    conn: &mut SqliteConnection,
    table: &'static str,
    id: &str,
    at: i64,
) -> Result<bool, sqlx::Error> {
    if id.is_empty() {
        return Ok(false);
    }
    let sql = match table {
        "users" => {
            // The tombstone keeps the id only: no email, name or metadata.
            "INSERT INTO users (id, updated_at, deleted) VALUES (?, ?, 1) \
             ON CONFLICT (id) DO UPDATE SET deleted = 1, primary_email = NULL, first_name = NULL, \
               last_name = NULL, public_metadata = '{}', \
               updated_at = MAX(users.updated_at, excluded.updated_at) \
             WHERE users.deleted = 0"
        }
        "organizations" => {
            "INSERT INTO organizations (id, updated_at, deleted) VALUES (?, ?, 1) \
             ON CONFLICT (id) DO UPDATE SET deleted = 1, public_metadata = '{}', \
               updated_at = MAX(organizations.updated_at, excluded.updated_at) \
             WHERE organizations.deleted = 0"
        }
        _ => {
            "INSERT INTO memberships (id, organization_id, user_id, role, updated_at, deleted) \
             VALUES (?, '', '', '', ?, 1) \
             ON CONFLICT (id) DO UPDATE SET deleted = 1, \
               updated_at = MAX(memberships.updated_at, excluded.updated_at) \
             WHERE memberships.deleted = 0"
        }
    };
    let rows = sqlx::query(sql)
        .bind(id)
        .bind(at)
        .execute(&mut *conn)
        .await?;
    Ok(rows.rows_affected() > 0)
}

/// Opens the store `DATABASE_URL` names (default
/// [`DEFAULT_DATABASE_URL`]).
///
/// # Errors
/// See [`UserStore::open`].
pub async fn open_from_env() -> Result<UserStore, sqlx::Error> {
    let url = std::env::var("DATABASE_URL").unwrap_or_else(|_| DEFAULT_DATABASE_URL.to_owned());
    UserStore::open(&url).await
}
