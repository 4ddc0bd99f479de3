//! The Postgres the users-sync tests will run on: Debian's server started
//! by the project's own helper on loopback, in a temporary directory, and
//! answering a query through `sqlx`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod support;

use sqlx::Row;

#[tokio::test]
async fn a_real_postgres_starts_on_loopback_and_answers() {
    let Some(pg) = support::postgres::Postgres::start() else {
        return;
    };
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(2)
        .connect(&pg.url())
        .await
        .unwrap();
    let row = sqlx::query("SELECT 1 + 1 AS two, current_setting('listen_addresses') AS listen")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(row.get::<i32, _>("two"), 2);
    assert_eq!(row.get::<String, _>("listen"), "127.0.0.1");
    assert!(pg.dir().exists());
    pool.close().await;
}
