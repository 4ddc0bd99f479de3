//! The process's one Backend API budget, and who may spend what of it.
//!
//! Clerk rate-limits a whole instance (about 100 requests per 10 s on
//! development instances, 1000 on production), so the process keeps its
//! own calls under a budget. Some calls can be triggered by anyone, with no
//! account: a page load carrying a random `__clerk_handshake_nonce`, an old
//! expired session token with a random `__refresh_<suffix>` cookie, a
//! well-shaped `ak_…` key nobody issued. Those calls get **shares** of
//! their own, each bounded, and within a share each client (by address)
//! may take only a part, so one client's flood leaves the share to others.
//! Whatever the shares leave (at least half the budget) is the **reserve**
//! of signed-in users' lookups and re-checks of machine tokens verified
//! before: no anonymous flood can reach it.
//!
//! A call the budget refuses is *not* an outage of Clerk: no answer that
//! can be revoked (a machine token, a user record) is served stale because
//! of it.

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use crate::clock::Clock;

/// How many Backend API calls a process may make, and how long a 429 may
/// pause them. Clerk rate-limits the whole instance (100 requests per 10 s
/// on development instances, 1000 per 10 s on production), so every
/// replica's budget must fit under that together: with `N` replicas, give
/// each at most half the instance limit divided by `N`.
///
/// Of each window, calls anonymous requests can trigger take at most: 30%
/// for machine tokens not verified before, 10% for handshake nonces, 10%
/// for session refreshes (each at least one call), and one client (one
/// IPv4 address, one IPv6 /64) at most a quarter of each of those. The
/// rest, at least half, is kept for user and organization lookups, the
/// typed client and re-checks of known machine tokens (these at most a
/// quarter of the budget, so user lookups always keep a quarter).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackendBudget {
    /// Calls per window (default 50: half a development instance's limit).
    pub calls: u32,
    /// The window (default 10 s, as Clerk counts).
    pub window: Duration,
    /// The longest pause a `429 Retry-After` may impose (default 60 s; a
    /// 429 without `Retry-After` pauses 10 s).
    pub max_pause: Duration,
}

impl Default for BackendBudget {
    fn default() -> Self {
        Self {
            calls: 50,
            window: Duration::from_secs(10),
            max_pause: Duration::from_secs(60),
        }
    }
}

impl BackendBudget {
    /// The calls of a window `share` may make.
    const fn share(&self, share: Share) -> u32 {
        let percent = match share {
            Share::NewMachine => 30,
            Share::Nonce | Share::Refresh => 10,
            Share::KnownMachine => 25,
        };
        let n = self.calls / 100 * percent + self.calls % 100 * percent / 100;
        if n == 0 { 1 } else { n }
    }

    /// What one client may take of `share` in a window.
    const fn per_client(&self, share: Share) -> u32 {
        self.share(share).div_ceil(4)
    }
}

/// Who asks the [`Gate`] for a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Caller {
    /// JWKS fetches: counted, refused only during a 429 pause (they are
    /// bounded by the key cache's TTL, cool-down and single flight, and a
    /// refused key fetch would sign out every user of a rotated key).
    Keys,
    /// User and organization lookups, the typed client: the reserve.
    Users,
    /// Re-verification of a machine token verified before: the reserve
    /// (its answer, revoked or not, matters most).
    KnownMachine,
    /// An opaque machine token not verified before: anonymous, for this
    /// client when known.
    NewMachine(Option<Client>),
    /// A handshake nonce's payload: anonymous.
    Nonce(Option<Client>),
    /// A server-side session refresh: anonymous (any expired token will do).
    Refresh(Option<Client>),
}

/// The shares of anonymous callers, and the cap on re-checks of known
/// machine tokens (anyone may create API keys of their own and get them
/// known: user lookups keep a quarter of the budget whatever they do).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Share {
    NewMachine,
    Nonce,
    Refresh,
    KnownMachine,
}

impl Share {
    const fn index(self) -> usize {
        self as usize
    }
}

impl Caller {
    const fn as_str(self) -> &'static str {
        match self {
            Self::Keys => "keys",
            Self::Users => "users",
            Self::KnownMachine => "known-machine",
            Self::NewMachine(_) => "new-machine",
            Self::Nonce(_) => "handshake-nonce",
            Self::Refresh(_) => "session-refresh",
        }
    }

    /// The share an anonymous caller spends, and for which client.
    const fn share(self) -> Option<(Share, Option<Client>)> {
        match self {
            Self::NewMachine(c) => Some((Share::NewMachine, c)),
            Self::Nonce(c) => Some((Share::Nonce, c)),
            Self::Refresh(c) => Some((Share::Refresh, c)),
            Self::KnownMachine => Some((Share::KnownMachine, None)),
            Self::Keys | Self::Users => None,
        }
    }
}

/// The client a call is made for, as fairness counts it: an IPv4 address,
/// or the /64 network of an IPv6 address (one host usually has a whole
/// /64, so counting addresses would let it be many clients).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Client(u128);

impl Client {
    pub(crate) fn of(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(v4) => Self(u128::from(u32::from(v4))),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Self(u128::from(u32::from(v4))),
                // The /64, tagged so that it never equals an IPv4 address.
                None => Self((u128::from(v6) & !u128::from(u64::MAX)) | 1),
            },
        }
    }
}

/// The most `X-Forwarded-For` entries read, from the right: a longer chain
/// than any real proxy path is not walked further.
const MAX_FORWARDED_HOPS: usize = 16;

impl Client {
    /// The client of a request from `peer`: the peer itself, unless it is
    /// a trusted proxy; then the nearest address in `X-Forwarded-For`
    /// (all its lines, read right to left) that is not a trusted proxy.
    /// An entry that is not an address ends the walk at the hop before it
    /// (a forged or broken chain never names someone else). Only trusted
    /// proxies are believed: anyone can send the header.
    pub(crate) fn resolve<'a>(
        peer: IpAddr,
        forwarded: impl Iterator<Item = &'a [u8]>,
        trusted: &[ipnet::IpNet],
    ) -> Self {
        Self::of(client_ip(peer, forwarded, trusted))
    }
}

/// The client's address: `peer`, or behind trusted proxies the nearest
/// `X-Forwarded-For` hop that is not one of them.
pub(crate) fn client_ip<'a>(
    peer: IpAddr,
    forwarded: impl Iterator<Item = &'a [u8]>,
    trusted: &[ipnet::IpNet],
) -> IpAddr {
    {
        let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
        // A dual-stack listener sees IPv4 peers as `::ffff:a.b.c.d`.
        let peer = peer.to_canonical();
        if !is_trusted(&peer) {
            return peer;
        }
        let lines: Vec<&[u8]> = forwarded.collect();
        let hops = lines
            .iter()
            .rev()
            .flat_map(|line| line.rsplit(|b| *b == b','))
            .take(MAX_FORWARDED_HOPS);
        let mut nearest = peer;
        for hop in hops {
            // An address, or one with a port (`1.2.3.4:5678`,
            // `[2001:db8::1]:443`, as some gateways send).
            let Some(ip) = std::str::from_utf8(hop).ok().and_then(|h| {
                let h = h.trim();
                h.parse::<IpAddr>()
                    .or_else(|_| h.parse::<std::net::SocketAddr>().map(|a| a.ip()))
                    .ok()
                    .map(|ip| ip.to_canonical())
            }) else {
                break;
            };
            nearest = ip;
            if !is_trusted(&ip) {
                break;
            }
        }
        nearest
    }
}

/// `CLERK_TRUSTED_PROXIES`: comma-separated addresses (`10.0.0.1`,
/// `::1`) or networks (`10.0.0.0/8`, `fd00::/8`); `None` when any entry is
/// neither (a typo must not silently trust nobody, or everybody).
pub(crate) fn parse_trusted_proxies(list: &str) -> Option<Vec<ipnet::IpNet>> {
    list.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            p.parse::<ipnet::IpNet>()
                .or_else(|_| p.parse::<IpAddr>().map(ipnet::IpNet::from))
                .ok()
        })
        .collect()
}

/// Why the gate refused a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// A 429 pause lasts this long: Clerk said slow down.
    Paused(Duration),
    /// The budget (or the caller's share of it) is spent until the window
    /// ends, this long from now.
    Spent(Duration),
}

impl Refusal {
    pub(crate) const fn wait(self) -> Duration {
        match self {
            Self::Paused(d) | Self::Spent(d) => d,
        }
    }
}

/// The one Backend API budget of a process, shared by every caller (JWKS,
/// machine tokens, users, organizations, handshakes, refreshes), and the
/// pause after a 429. Time comes from the injected clock.
pub(crate) struct Gate {
    clock: Arc<dyn Clock>,
    budget: BackendBudget,
    state: Mutex<GateState>,
    /// The fleet's budget on Redis, asked after this one.
    #[cfg(feature = "redis")]
    fleet: Option<Arc<super::fleet::Fleet>>,
}

struct GateState {
    window_start: i64,
    used: u32,
    refused: u64,
    /// Calls of each anonymous share this window.
    shares: [u32; 4],
    /// Calls of each client per share this window. Only granted calls are
    /// counted, so it holds at most the shares' sum of entries.
    clients: HashMap<(Share, Client), u32, foldhash::fast::RandomState>,
    pause_started: i64,
    paused_until: i64,
}

impl fmt::Debug for Gate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Gate")
            .field("budget", &self.budget)
            .finish_non_exhaustive()
    }
}

/// Seconds, at least 1, at most `i64::MAX`.
fn whole_secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs().max(1)).unwrap_or(i64::MAX)
}

fn secs_until(now: i64, until: i64) -> Duration {
    Duration::from_secs(u64::try_from(until.saturating_sub(now)).unwrap_or(0).max(1))
}

impl Gate {
    pub(crate) fn new(clock: Arc<dyn Clock>, budget: BackendBudget) -> Self {
        Self {
            clock,
            budget,
            state: Mutex::new(GateState {
                window_start: i64::MIN,
                used: 0,
                refused: 0,
                shares: [0; 4],
                clients: HashMap::default(),
                pause_started: i64::MIN,
                paused_until: i64::MIN,
            }),
            #[cfg(feature = "redis")]
            fleet: None,
        }
    }

    /// With the fleet's budget.
    #[cfg(feature = "redis")]
    pub(crate) fn with_fleet(mut self, fleet: Option<Arc<super::fleet::Fleet>>) -> Self {
        self.fleet = fleet;
        self
    }

    /// The fleet's budget, when there is one.
    #[cfg(feature = "redis")]
    pub(crate) fn fleet(&self) -> Option<&Arc<super::fleet::Fleet>> {
        self.fleet.as_ref()
    }

    #[cfg(test)]
    pub(crate) fn budget(&self) -> BackendBudget {
        self.budget
    }

    /// Takes one call from the budget for `caller`, or says why none may
    /// be made now.
    pub(crate) fn acquire(&self, caller: Caller) -> Result<(), Refusal> {
        let now = self.clock.now_unix();
        let window = whole_secs(self.budget.window);
        let mut s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        // Paused between the 429 and its end; a clock stepped back to before
        // the 429 ends the pause rather than stretching it past its cap.
        if s.pause_started <= now && now < s.paused_until {
            s.refused += 1;
            return Err(Refusal::Paused(secs_until(now, s.paused_until)));
        }
        if now >= s.window_start.saturating_add(window) || now < s.window_start {
            if s.refused > 0 {
                tracing::warn!(
                    refused = s.refused,
                    used = s.used,
                    budget = self.budget.calls,
                    window_secs = window,
                    "Backend API calls refused in the last window (budget, shares or 429 pause)"
                );
            }
            s.window_start = now;
            s.used = 0;
            s.refused = 0;
            s.shares = [0; 4];
            s.clients.clear();
        }
        let spent = Refusal::Spent(secs_until(now, s.window_start.saturating_add(window)));
        let total_left = caller == Caller::Keys || s.used < self.budget.calls;
        let share_left = match caller.share() {
            None => true,
            Some((share, client)) => {
                s.shares[share.index()] < self.budget.share(share)
                    && client.is_none_or(|c| {
                        s.clients.get(&(share, c)).copied().unwrap_or(0)
                            < self.budget.per_client(share)
                    })
            }
        };
        if !(total_left && share_left) {
            s.refused += 1;
            if s.refused == 1 {
                tracing::warn!(
                    caller = caller.as_str(),
                    used = s.used,
                    budget = self.budget.calls,
                    window_secs = window,
                    "Backend API budget or share exhausted for this window"
                );
            }
            return Err(spent);
        }
        s.used = s.used.saturating_add(1);
        if let Some((share, client)) = caller.share() {
            s.shares[share.index()] += 1;
            if let Some(c) = client {
                *s.clients.entry((share, c)).or_insert(0) += 1;
            }
        }
        Ok(())
    }

    /// A 429 arrived: no call for `Retry-After` (capped at `max_pause`).
    pub(crate) fn pause(&self, retry_after: Option<Duration>) -> Duration {
        let requested = retry_after.unwrap_or(Duration::from_secs(10));
        let pause = requested.clamp(
            Duration::from_secs(1),
            self.budget.max_pause.max(Duration::from_secs(1)),
        );
        self.hold(pause);
        tracing::warn!(
            requested_secs = requested.as_secs(),
            pause_secs = pause.as_secs(),
            "Backend API answered 429; pausing every Backend API call"
        );
        pause
    }

    /// Another replica got a 429 (the fleet's pause): this process pauses
    /// too, for as long (capped).
    #[cfg(feature = "redis")]
    pub(crate) fn pause_locally(&self, pause: Duration) -> Duration {
        let pause = pause.clamp(
            Duration::from_secs(1),
            self.budget.max_pause.max(Duration::from_secs(1)),
        );
        self.hold(pause);
        pause
    }

    fn hold(&self, pause: Duration) {
        let now = self.clock.now_unix();
        let mut s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let until = now.saturating_add(whole_secs(pause));
        if !(s.pause_started <= now && now < s.paused_until) || until > s.paused_until {
            s.pause_started = now;
            s.paused_until = until;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    fn gate(calls: u32) -> (Arc<ManualClock>, Gate) {
        let clock = Arc::new(ManualClock::new(1_000));
        let budget = BackendBudget {
            calls,
            ..BackendBudget::default()
        };
        (clock.clone(), Gate::new(clock, budget))
    }

    fn granted(g: &Gate, caller: Caller) -> usize {
        (0..100).filter(|_| g.acquire(caller).is_ok()).count()
    }

    const ANONYMOUS: [fn(Option<Client>) -> Caller; 3] =
        [Caller::NewMachine, Caller::Nonce, Caller::Refresh];

    fn client(last: u8) -> Option<Client> {
        Some(Client::of(IpAddr::from([203, 0, 113, last])))
    }

    #[test]
    fn anonymous_shares_never_reach_the_reserve() {
        let (clock, g) = gate(50);
        // Every anonymous share spent by many clients (3 calls each at most).
        for last in 0..20 {
            for caller in ANONYMOUS {
                granted(&g, caller(client(last)));
            }
        }
        for caller in ANONYMOUS {
            assert_eq!(granted(&g, caller(None)), 0, "share spent");
        }
        // 15 + 5 + 5 taken: the reserve, 25, is whole. Known machines may
        // take 12 of it (a quarter of the budget), users the rest.
        assert_eq!(granted(&g, Caller::KnownMachine), 12);
        assert_eq!(granted(&g, Caller::Users), 13);
        assert!(matches!(
            g.acquire(Caller::KnownMachine),
            Err(Refusal::Spent(_))
        ));
        assert!(
            g.acquire(Caller::Keys).is_ok(),
            "key fetches count but are refused only by a 429 pause"
        );
        clock.advance(9);
        assert_eq!(
            g.acquire(Caller::Users),
            Err(Refusal::Spent(Duration::from_secs(1)))
        );
        clock.advance(1);
        assert!(g.acquire(Caller::NewMachine(None)).is_ok(), "a new window");
    }

    #[test]
    fn one_client_takes_a_quarter_of_a_share_and_leaves_the_rest_to_others() {
        let (_, g) = gate(50);
        assert_eq!(granted(&g, Caller::NewMachine(client(1))), 4, "15 / 4");
        assert_eq!(granted(&g, Caller::NewMachine(client(2))), 4);
        assert_eq!(granted(&g, Caller::Nonce(client(1))), 2, "5 / 4");
        assert_eq!(granted(&g, Caller::Refresh(client(1))), 2);
        // An IPv6 host is one client whatever its address in its /64.
        let v6 = |last: u16| {
            Some(Client::of(IpAddr::from([
                0x2001, 0xdb8, 0, 1, 0, 0, 0, last,
            ])))
        };
        assert_eq!(
            (0..100)
                .filter(|i| g.acquire(Caller::NewMachine(v6(*i))).is_ok())
                .count(),
            4
        );
        // An IPv4-mapped IPv6 address is its IPv4 address.
        let mapped = Client::of(IpAddr::from(
            std::net::Ipv4Addr::new(203, 0, 113, 1).to_ipv6_mapped(),
        ));
        assert_eq!(Some(mapped), client(1));
        // Unknown clients are bounded by the share alone: 15 - 12 left.
        assert_eq!(granted(&g, Caller::NewMachine(None)), 3);
    }

    #[test]
    fn a_forwarded_address_counts_only_behind_a_trusted_proxy() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let trusted: Vec<ipnet::IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let resolve = |peer: &str, lines: &[&str]| {
            Client::resolve(ip(peer), lines.iter().map(|l| l.as_bytes()), &trusted)
        };
        let me = Client::of(ip("203.0.113.7"));
        // An untrusted peer is the client, whatever it forwards.
        assert_eq!(resolve("203.0.113.7", &["198.51.100.1"]), me);
        // Behind a trusted proxy: the nearest untrusted hop, right to left,
        // over every line of the header.
        assert_eq!(resolve("10.0.0.1", &["203.0.113.7"]), me);
        assert_eq!(
            resolve("10.0.0.1", &["198.51.100.1, 203.0.113.7, 10.1.1.1"]),
            me
        );
        assert_eq!(
            resolve("10.0.0.1", &["198.51.100.1", "203.0.113.7 ,10.2.2.2"]),
            me
        );
        // Junk ends the walk at the hop before it: never someone else.
        let proxy = Client::of(ip("10.0.0.1"));
        assert_eq!(resolve("10.0.0.1", &["203.0.113.7, junk"]), proxy);
        assert_eq!(
            resolve("10.0.0.1", &["\u{0}, 10.9.9.9"]),
            Client::of(ip("10.9.9.9"))
        );
        assert_eq!(resolve("10.0.0.1", &[]), proxy);
        // A chain of trusted hops longer than any real one stops early.
        let long = vec!["10.0.0.2"; 100].join(",");
        assert_eq!(resolve("10.0.0.1", &[&long]), Client::of(ip("10.0.0.2")));
    }

    #[test]
    fn trusted_proxies_are_addresses_or_networks_and_nothing_else() {
        let nets = parse_trusted_proxies(" 10.0.0.0/8, 192.0.2.7 ,fd00::/8,::1,").unwrap();
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let trusted = |a: &str| nets.iter().any(|n| n.contains(&ip(a)));
        assert!(
            trusted("10.9.9.9") && trusted("192.0.2.7") && trusted("fd00::1") && trusted("::1")
        );
        assert!(!trusted("192.0.2.8") && !trusted("11.0.0.1"));
        assert_eq!(parse_trusted_proxies(""), Some(Vec::new()));
        for hostile in [
            "10.0.0.0/33",
            "10.0.0.1:80",
            "proxy.internal",
            "10.0.0.0/8;",
            "*",
            "10.0.0.1 10.0.0.2",
        ] {
            assert_eq!(parse_trusted_proxies(hostile), None, "{hostile}");
        }
    }

    #[test]
    fn small_budgets_keep_one_call_per_share() {
        let (_, g) = gate(4);
        assert_eq!(granted(&g, Caller::Nonce(client(1))), 1);
        assert_eq!(granted(&g, Caller::Refresh(client(1))), 1);
        assert_eq!(granted(&g, Caller::NewMachine(client(1))), 1);
        assert_eq!(granted(&g, Caller::Users), 1, "4 in all");
    }

    #[test]
    fn a_429_pauses_every_caller_for_retry_after_capped() {
        let (clock, g) = gate(50);
        assert_eq!(
            g.pause(Some(Duration::from_secs(86_400))),
            Duration::from_secs(60)
        );
        for caller in [Caller::Keys, Caller::Users, Caller::NewMachine(None)] {
            assert_eq!(
                g.acquire(caller),
                Err(Refusal::Paused(Duration::from_secs(60)))
            );
        }
        clock.advance(59);
        assert!(g.acquire(Caller::Users).is_err());
        clock.advance(1);
        assert!(g.acquire(Caller::Users).is_ok());
        assert_eq!(g.pause(None), Duration::from_secs(10), "no Retry-After");
        assert_eq!(g.pause(Some(Duration::ZERO)), Duration::from_secs(1));
        // A shorter pause never shortens a longer one.
        g.pause(Some(Duration::from_secs(30)));
        g.pause(Some(Duration::from_secs(2)));
        clock.advance(29);
        assert!(g.acquire(Caller::Keys).is_err());
    }

    #[test]
    fn a_clock_stepped_back_neither_stretches_a_pause_nor_freezes_the_window() {
        let (clock, g) = gate(4);
        g.pause(Some(Duration::from_secs(60)));
        clock.set(1_000 - 3_600);
        assert!(
            g.acquire(Caller::Users).is_ok(),
            "the pause ends rather than lasting an hour more"
        );
        assert_eq!(granted(&g, Caller::Users), 3);
        clock.set(1_000 - 7_200);
        assert!(
            g.acquire(Caller::Users).is_ok(),
            "a new window, not a frozen one"
        );
    }
}
