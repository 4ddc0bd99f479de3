//! One Backend API budget for a fleet of replicas, on Redis (feature
//! `redis`): Clerk limits the instance, not the process, so every replica
//! counts its calls in one Redis counter per window and honours one shared
//! 429 pause. Redis is asked with a short timeout; when it is slow or down
//! the replica counts alone against a conservative local share (the fleet
//! limit divided by the expected replica count), says so in a log line and
//! the `clerk_fleet_budget_fallback_total` metric, and tries Redis again a
//! second later. Never unbounded, never waiting on Redis for long.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use crate::clock::Clock;

/// How long a Redis round trip may take before the local share decides.
const REDIS_TIMEOUT: Duration = Duration::from_millis(50);
/// How long an invalidation keeps older copies from being shared: two
/// freshness windows.
const TOMB_SECS: i64 = 120;
/// A record larger than this is not shared.
const MAX_SHARED_RECORD: usize = 64 * 1024;
/// After a Redis failure, the local share decides this long.
const RETRY_AFTER_FAILURE_SECS: i64 = 1;

/// The counter and the pause in one round trip. `KEYS[1]` the window's
/// counter, `KEYS[2]` the pause; `ARGV[1]` the limit, `ARGV[2]` the
/// counter's lifetime, `ARGV[3]` 1 to count without refusing (key fetches).
/// Answers the pause left in milliseconds as a negative number, 0 when the
/// window is spent, else the calls counted.
const ACQUIRE: &str = r"
local p = redis.call('PTTL', KEYS[2])
if p > 0 then return -p end
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
if n > tonumber(ARGV[1]) and ARGV[3] ~= '1' then return 0 end
return n
";

/// A fleet-wide budget on Redis, for
/// `ClerkConfigBuilder::fleet_budget`.
///
/// ```
/// use clerk_core::config::FleetBudget;
/// // A production instance (Clerk: about 1000 calls per 10 s), 30 replicas.
/// let fleet = FleetBudget::new("redis://127.0.0.1:6379/0")
///     .calls_per_window(900)
///     .replicas(30);
/// # let _ = fleet;
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetBudget {
    pub(crate) url: String,
    pub(crate) calls: u32,
    pub(crate) replicas: u32,
}

impl FleetBudget {
    /// Counting on the Redis at `url` (`redis://`, `rediss://`), 90 calls
    /// per window for the whole fleet (a development instance allows
    /// about 100 per 10 s), 3 replicas expected.
    pub fn new(url: &str) -> Self {
        Self {
            url: url.to_owned(),
            calls: 90,
            replicas: 3,
        }
    }

    /// Calls per window for every replica together (keep it under Clerk's
    /// instance limit: about 100 per 10 s on development instances, 1000
    /// on production).
    #[must_use]
    pub fn calls_per_window(mut self, calls: u32) -> Self {
        self.calls = calls;
        self
    }

    /// The replicas expected: without Redis each may make the fleet's
    /// calls divided by this (rounded down, at least 1).
    #[must_use]
    pub fn replicas(mut self, replicas: u32) -> Self {
        self.replicas = replicas.max(1);
        self
    }
}

/// What the fleet says of one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    Granted,
    /// The fleet's window is spent for this long.
    Spent(Duration),
    /// A replica got a 429: paused this long.
    Paused(Duration),
}

/// The running fleet budget of a `Clerk`.
pub(crate) struct Fleet {
    client: redis::Client,
    connection: tokio::sync::Mutex<Option<redis::aio::ConnectionManager>>,
    script: redis::Script,
    prefix: String,
    calls: u32,
    local_share: u32,
    window: i64,
    clock: Arc<dyn Clock>,
    /// Until when the local share decides (after a Redis failure).
    local_until: AtomicI64,
    /// The local share's window and its count.
    local_window: AtomicI64,
    local_used: AtomicI64,
}

impl std::fmt::Debug for Fleet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fleet")
            .field("calls", &self.calls)
            .field("local_share", &self.local_share)
            .finish_non_exhaustive()
    }
}

impl Fleet {
    /// The fleet budget of the instance whose key is `instance_key`: named
    /// in Redis by the first 8 bytes of its SHA-256, never the key.
    pub(crate) fn of_instance(
        budget: &FleetBudget,
        instance_key: &str,
        window: Duration,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, crate::error::ConfigError> {
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, instance_key.as_bytes());
        let instance: String = digest.as_ref()[..8]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        Self::new(budget, &instance, window, clock)
    }

    /// `instance` names the Clerk instance in Redis keys.
    fn new(
        budget: &FleetBudget,
        instance: &str,
        window: Duration,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, crate::error::ConfigError> {
        let client = redis::Client::open(budget.url.as_str())
            .map_err(|_| crate::error::ConfigError::InvalidUrl("fleet budget Redis URL"))?;
        Ok(Self {
            client,
            connection: tokio::sync::Mutex::new(None),
            script: redis::Script::new(ACQUIRE),
            prefix: format!("clerk:{instance}"),
            calls: budget.calls.max(1),
            local_share: (budget.calls / budget.replicas.max(1)).max(1),
            window: i64::try_from(window.as_secs().max(1)).unwrap_or(10),
            clock,
            local_until: AtomicI64::new(i64::MIN),
            local_window: AtomicI64::new(i64::MIN),
            local_used: AtomicI64::new(0),
        })
    }

    /// One call for the fleet; `force` counts it without refusing (key
    /// fetches, which the local gate lets through too).
    pub(crate) async fn acquire(&self, force: bool) -> Verdict {
        let now = self.clock.now_unix();
        if now < self.local_until.load(Ordering::Relaxed) {
            return self.local(now, force);
        }
        let index = now.div_euclid(self.window);
        let ends_in = Duration::from_secs(
            u64::try_from((index + 1) * self.window - now)
                .unwrap_or(1)
                .max(1),
        );
        let counter = format!("{}:budget:{index}", self.prefix);
        let pause = format!("{}:pause", self.prefix);
        let asked = tokio::time::timeout(REDIS_TIMEOUT, async {
            let mut con = self.connect().await?;
            let mut invocation = self.script.key(&counter);
            invocation
                .key(&pause)
                .arg(self.calls)
                .arg(self.window * 2)
                .arg(u8::from(force));
            invocation.invoke_async::<i64>(&mut con).await
        })
        .await;
        match asked {
            Ok(Ok(n)) if n > 0 => Verdict::Granted,
            Ok(Ok(0)) => Verdict::Spent(ends_in),
            Ok(Ok(ms)) => Verdict::Paused(
                Duration::from_millis(ms.unsigned_abs()).max(Duration::from_secs(1)),
            ),
            _ => {
                self.local_until
                    .store(now + RETRY_AFTER_FAILURE_SECS, Ordering::Relaxed);
                crate::metrics::fleet_fallback();
                tracing::warn!(
                    local_share = self.local_share,
                    "Clerk: the fleet budget's Redis is slow or down; counting this replica's share alone"
                );
                self.local(now, force)
            }
        }
    }

    /// One Redis operation within the short timeout, skipped while the
    /// breaker is open (a second after any failure); a failure opens it.
    async fn ask<T, F>(&self, op: F) -> Option<T>
    where
        F: std::future::Future<Output = redis::RedisResult<T>>,
    {
        let now = self.clock.now_unix();
        if now < self.local_until.load(Ordering::Relaxed) {
            return None;
        }
        match tokio::time::timeout(REDIS_TIMEOUT, op).await {
            Ok(Ok(v)) => Some(v),
            _ => {
                self.local_until
                    .store(now + RETRY_AFTER_FAILURE_SECS, Ordering::Relaxed);
                None
            }
        }
    }

    /// A 429 arrived: every replica pauses for `pause` (best effort; a
    /// longer pause already set is kept).
    pub(crate) async fn pause(&self, pause: Duration) {
        let key = format!("{}:pause", self.prefix);
        let ms = u64::try_from(pause.as_millis()).unwrap_or(u64::MAX).max(1);
        self.ask(async {
            let mut con = self.connect().await?;
            redis::Script::new(
                "if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[1]) then \
                 redis.call('SET', KEYS[1], 1, 'PX', ARGV[1]) end return 1",
            )
            .key(&key)
            .arg(ms)
            .invoke_async::<i64>(&mut con)
            .await
        })
        .await;
    }

    /// The local share: the fleet's calls divided by the replicas, per
    /// window.
    fn local(&self, now: i64, force: bool) -> Verdict {
        let index = now.div_euclid(self.window);
        if self.local_window.swap(index, Ordering::Relaxed) != index {
            self.local_used.store(0, Ordering::Relaxed);
        }
        let used = self.local_used.fetch_add(1, Ordering::Relaxed);
        if force || used < i64::from(self.local_share) {
            Verdict::Granted
        } else {
            let left = (index + 1) * self.window - now;
            Verdict::Spent(Duration::from_secs(u64::try_from(left).unwrap_or(1).max(1)))
        }
    }

    /// The channel replicas tell each other what to forget on.
    fn channel(&self) -> String {
        format!("{}:invalidate", self.prefix)
    }

    fn record_key(&self, kind: &str, id: &str) -> String {
        format!("{}:record:{kind}:{id}", self.prefix)
    }

    /// Set by an invalidation for two freshness windows: a copy fetched
    /// before it cannot be shared after it.
    fn tomb_key(&self, kind: &str, id: &str) -> String {
        format!("{}:tomb:{kind}:{id}", self.prefix)
    }

    /// The shared copy of a record (`kind` `user`, `organization` or
    /// `verdict`) and when it was fetched, if Redis answers in time and it
    /// is no larger than shared records may be.
    pub(crate) async fn record(&self, kind: &str, id: &str) -> Option<(i64, Vec<u8>)> {
        let key = self.record_key(kind, id);
        let value = self
            .ask(async {
                let mut con = self.connect().await?;
                redis::Script::new(
                    "if redis.call('STRLEN', KEYS[1]) > tonumber(ARGV[1]) then return false end \
                     return redis.call('GET', KEYS[1])",
                )
                .key(&key)
                .arg(MAX_SHARED_RECORD + 32)
                .invoke_async::<Option<Vec<u8>>>(&mut con)
                .await
            })
            .await??;
        let split = value.iter().position(|b| *b == b':')?;
        let fetched_at = std::str::from_utf8(&value[..split]).ok()?.parse().ok()?;
        Some((fetched_at, value[split + 1..].to_vec()))
    }

    /// Shares a record just fetched (at most 64 KiB; kept `ttl` seconds)
    /// unless it was invalidated meanwhile, and indexes it under `owner`
    /// (a machine token's id) when given, in one script.
    async fn share(
        &self,
        kind: &str,
        id: &str,
        owner: Option<&str>,
        at: i64,
        body: &[u8],
        ttl: i64,
    ) {
        if body.len() > MAX_SHARED_RECORD || ttl <= 0 {
            return;
        }
        let mut value = format!("{at}:").into_bytes();
        value.extend_from_slice(body);
        let owner = owner.filter(|o| !o.is_empty() && o.len() <= 128);
        let (tomb, index) = match owner {
            Some(o) => (
                self.tomb_key("machine", o),
                format!("{}:verdicts-of:{o}", self.prefix),
            ),
            None => (self.tomb_key(kind, id), String::new()),
        };
        self.ask(async {
            let mut con = self.connect().await?;
            redis::Script::new(
                "if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end \
                 redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2]) \
                 if ARGV[3] ~= '' then redis.call('SADD', ARGV[3], ARGV[4]) \
                 redis.call('EXPIRE', ARGV[3], ARGV[2]) end return 1",
            )
            .key(self.record_key(kind, id))
            .key(&tomb)
            .arg(value)
            .arg(ttl)
            .arg(&index)
            .arg(id)
            .invoke_async::<i64>(&mut con)
            .await
        })
        .await;
    }

    /// Shares a record just fetched: see [`Fleet::share`].
    pub(crate) async fn share_record(
        &self,
        kind: &str,
        id: &str,
        fetched_at: i64,
        body: &[u8],
        ttl: i64,
    ) {
        self.share(kind, id, None, fetched_at, body, ttl).await;
    }

    /// The shared verdict on a machine token (by its digest, never the
    /// token) and when it was had: `ok:<Clerk's answer>` or `invalid`.
    pub(crate) async fn verdict(&self, digest: &str) -> Option<(i64, String)> {
        let (at, body) = self.record("verdict", digest).await?;
        Some((at, String::from_utf8(body).ok()?))
    }

    /// Shares a verdict for `ttl` seconds, indexed by the token's id (when
    /// Clerk named one) so a revocation can remove it, unless the token
    /// was revoked meanwhile.
    pub(crate) async fn share_verdict(
        &self,
        digest: &str,
        token_id: Option<&str>,
        at: i64,
        verdict: &str,
        ttl: i64,
    ) {
        self.share("verdict", digest, token_id, at, verdict.as_bytes(), ttl)
            .await;
    }

    /// A machine token was revoked: its shared verdicts go, none of it may
    /// be shared for two windows, and every replica is told to forget its
    /// own (`machine:<token id>`).
    pub(crate) async fn revoked(&self, token_id: &str) {
        let index = format!("{}:verdicts-of:{token_id}", self.prefix);
        let verdicts = format!("{}:record:verdict:", self.prefix);
        let tomb = self.tomb_key("machine", token_id);
        self.ask(async {
            let mut con = self.connect().await?;
            redis::Script::new(
                "redis.call('SET', KEYS[2], 1, 'EX', ARGV[2]) \
                 for _, d in ipairs(redis.call('SMEMBERS', KEYS[1])) do \
                 redis.call('DEL', ARGV[1] .. d) end redis.call('DEL', KEYS[1]) return 1",
            )
            .key(&index)
            .key(&tomb)
            .arg(&verdicts)
            .arg(TOMB_SECS)
            .invoke_async::<i64>(&mut con)
            .await
        })
        .await;
        self.publish("machine", token_id).await;
    }

    /// Tells every replica to forget `kind:id` (`user:user_…`,
    /// `organization:org_…`, `machine:ak_…`), the shared copy first and
    /// marked so that no copy fetched before is shared after: best effort;
    /// a replica that misses it serves its copy until its freshness ends
    /// (60 s).
    pub(crate) async fn publish(&self, kind: &str, id: &str) {
        let message = format!("{kind}:{id}");
        let sent = self
            .ask(async {
                let mut con = self.connect().await?;
                redis::Script::new(
                    "redis.call('SET', KEYS[2], 1, 'EX', ARGV[2]) redis.call('DEL', KEYS[1]) \
                     return redis.call('PUBLISH', KEYS[3], ARGV[1])",
                )
                .key(self.record_key(kind, id))
                .key(self.tomb_key(kind, id))
                .key(self.channel())
                .arg(&message)
                .arg(TOMB_SECS)
                .invoke_async::<i64>(&mut con)
                .await
            })
            .await;
        if sent.is_none() {
            tracing::warn!("Clerk: an invalidation could not be sent to the other replicas");
        }
    }

    /// Listens for other replicas' invalidations and hands each to
    /// `forget(kind, id)` until `stop` resolves (its sender, held by the
    /// owner, is dropped); reconnects a second after Redis goes away
    /// (invalidations sent meanwhile are missed: those records expire at
    /// their freshness).
    pub(crate) async fn listen(
        self: Arc<Self>,
        mut stop: tokio::sync::oneshot::Receiver<()>,
        forget: impl Fn(
            String,
            String,
        ) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>
        + Send
        + Sync
        + 'static,
    ) {
        use futures_util::StreamExt as _;
        let channel = self.channel();
        loop {
            let subscribed = tokio::time::timeout(Duration::from_secs(5), async {
                let mut pubsub = self.client.get_async_pubsub().await?;
                pubsub.subscribe(&channel).await?;
                Ok::<_, redis::RedisError>(pubsub)
            });
            let subscribed = tokio::select! {
                _ = &mut stop => return,
                s = subscribed => s,
            };
            match subscribed {
                Ok(Ok(pubsub)) => {
                    let mut messages = pubsub.into_on_message();
                    loop {
                        let msg = tokio::select! {
                            _ = &mut stop => return,
                            m = messages.next() => m,
                        };
                        let Some(msg) = msg else { break };
                        let Ok(text) = msg.get_payload::<String>() else {
                            continue;
                        };
                        if let Some((kind, id)) = text.split_once(':') {
                            forget(kind.to_owned(), id.to_owned()).await;
                        }
                    }
                    tracing::warn!("Clerk: the fleet's invalidation channel closed; reconnecting");
                }
                _ => {
                    tracing::warn!("Clerk: cannot listen for the fleet's invalidations; retrying");
                }
            }
            tokio::select! {
                _ = &mut stop => return,
                () = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
    }

    async fn connect(&self) -> redis::RedisResult<redis::aio::ConnectionManager> {
        let mut slot = self.connection.lock().await;
        if let Some(con) = slot.as_ref() {
            return Ok(con.clone());
        }
        let con = self.client.get_connection_manager().await?;
        *slot = Some(con.clone());
        Ok(con)
    }
}
