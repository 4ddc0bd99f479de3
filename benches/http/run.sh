#!/usr/bin/env bash
# HTTP load benchmark: a no-auth axum server, README's axum quickstart, a
# hand-written jsonwebtoken middleware and the axum example app, each pinned
# to core 0 with wrk (64 keep-alive connections) on core 1, in one run.
# Prints req/s, CPU µs per request, the ratios the speed goals name and the
# quickstart's RSS growth per cached token. Not part of `cargo test` or CI.
#
#   benches/http/run.sh              # about 2 minutes once built
#   DURATION=15 benches/http/run.sh  # longer runs
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$here/../.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/clerk-target}"
duration="${DURATION:-8}"
conns=64
distinct=30000   # more than the default token cache (10,000) holds
cached=10000     # tokens served for the RSS measurement (fits the cache)

die() { echo "run.sh: $*" >&2; exit 1; }

# The load generator: Debian's wrk (Lua scripting sends distinct tokens).
if ! command -v wrk >/dev/null; then
  echo "wrk is missing: installing it from Debian's packages" >&2
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  { $sudo apt-get install -y wrk || { $sudo apt-get update && $sudo apt-get install -y wrk; }; } >/dev/null 2>&1 || true
  command -v wrk >/dev/null || die "wrk is not installed and could not be installed (apt-get install wrk)"
fi
command -v taskset >/dev/null || die "taskset (util-linux) is needed to pin servers to a core"
[ "$(nproc)" -ge 2 ] || die "needs 2 cores: one for the server, one for wrk"

echo "building (release)..." >&2
(cd "$here" && cargo build --release --quiet)
(cd "$root" && cargo build --release --quiet -p clerk-examples --bin axum_app)
bench="$CARGO_TARGET_DIR/release/http-bench"
example="$CARGO_TARGET_DIR/release/axum_app"

tmp="$(mktemp -d)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$tmp"; }
trap cleanup EXIT

"$bench" mint "$tmp" "$distinct"
head -n "$cached" "$tmp/tokens.txt" > "$tmp/cached.txt"
same="$(cat "$tmp/same.txt")"
export CLERK_JWT_KEY="$(cat "$tmp/key.pem")"
export CLERK_AUTHORIZED_PARTIES="https://app.example.com"
export JWK="$(cat "$tmp/jwk.json")"
tck="$(getconf CLK_TCK)"

# start NAME CMD...: starts a server on core 0; sets $pid and $port.
start() {
  local name="$1"; shift
  PORT=0 taskset -c 0 "$@" >"$tmp/$name.out" 2>&1 &
  pid=$!; pids+=("$pid"); port=""
  for _ in $(seq 1 100); do
    port="$(sed -n 's/^listening 127.0.0.1:\([0-9]*\)$/\1/p' "$tmp/$name.out")"
    # The example app's dev banner names the port it bound.
    [ -n "$port" ] || port="$(sed -n 's|^Open http://localhost:\([0-9]*\)/.*|\1|p' "$tmp/$name.out")"
    [ -n "$port" ] && return 0
    kill -0 "$pid" 2>/dev/null || { cat "$tmp/$name.out" >&2; die "$name did not start"; }
    sleep 0.1
  done
  die "$name did not listen"
}
stop() { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }

# load MODE SECONDS [TOKEN]: wrk against $port; prints "req/s requests".
load() {
  local mode="$1" secs="$2" token="${3:-$same}" out
  if [ "$mode" = same ]; then
    out="$(taskset -c 1 wrk -t1 -c"$conns" -d"${secs}s" -H "Authorization: Bearer $token" "http://127.0.0.1:$port/api/me")"
  else
    out="$(TOKENS="$mode" taskset -c 1 wrk -t1 -c"$conns" -d"${secs}s" -s "$here/distinct.lua" "http://127.0.0.1:$port/api/me")"
  fi
  if grep -q -e "Non-2xx" -e "Socket errors" <<<"$out"; then
    echo "$out" >&2; die "errors under load (port $port, $mode)"
  fi
  awk '/requests in/ {n=$1} /^Requests\/sec/ {r=$2} END {print r, n}' <<<"$out"
}

declare -A rps cpu
# measure KEY MODE: a 1 s warm-up, then $duration seconds measured.
measure() {
  local key="$1" mode="$2" t0 t1 r n
  load "$mode" 1 >/dev/null
  t0="$(cpu_ticks "$pid")"
  read -r r n < <(load "$mode" "$duration")
  t1="$(cpu_ticks "$pid")"
  rps[$key]="$r"
  cpu[$key]="$(awk -v d=$((t1 - t0)) -v n="$n" -v t="$tck" 'BEGIN {printf "%.1f", d * 1e6 / t / n}')"
}

for server in noauth quickstart jwt; do
  start "$server" "$bench" serve "$server"
  measure "$server/same" same
  measure "$server/distinct" "$tmp/tokens.txt"
  stop
done

start example env -u CLERK_JWT_KEY -u CLERK_AUTHORIZED_PARTIES "$example"
example_token="$(sed -n "s/^curl -H 'Authorization: Bearer \([^']*\)'.*/\1/p" "$tmp/example.out" | head -n1)"
[ -n "$example_token" ] || die "no persona token in the example app's banner"
same="$example_token" measure "example/same" same
stop

# RSS growth per cached token: a fresh quickstart server, warmed with one
# token, then $cached distinct tokens served (each cached).
start quickstart-rss "$bench" serve quickstart
load same 1 >/dev/null
rss0="$(rss_kib "$pid")"
load "$tmp/cached.txt" 3 >/dev/null
rss1="$(rss_kib "$pid")"
stop

ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.3f", a / b}'; }
printf '\n%-11s %-9s %10s %10s %9s\n' server tokens "req/s" "x no-auth" "us CPU/req"
for key in noauth/same noauth/distinct quickstart/same quickstart/distinct jwt/same jwt/distinct example/same; do
  server="${key%/*}" mode="${key#*/}"
  printf '%-11s %-9s %10.0f %10s %9s\n' "$server" "$mode" "${rps[$key]}" \
    "$(ratio "${rps[$key]}" "${rps[noauth/$mode]}")" "${cpu[$key]}"
done
per_token="$(awk -v a="$rss0" -v b="$rss1" -v n="$cached" 'BEGIN {printf "%.2f", (b - a) / n}')"
check() { awk -v v="$2" -v g="$3" 'BEGIN {exit !(v >= g)}' && echo "ok  " || echo "MISS"; }
checkle() { awk -v v="$2" -v g="$3" 'BEGIN {exit !(v <= g)}' && echo "ok  " || echo "MISS"; }
d="$(ratio "${rps[quickstart/distinct]}" "${rps[jwt/distinct]}")"
s="$(ratio "${rps[quickstart/same]}" "${rps[noauth/same]}")"
e="$(ratio "${rps[example/same]}" "${rps[noauth/same]}")"
echo
echo "goals (same run):"
echo "  $(check d "$d" 1.8) quickstart / jsonwebtoken, distinct tokens: $d (>= 1.8)"
echo "  $(check s "$s" 0.85) quickstart / no-auth, same token:         $s (>= 0.85)"
echo "  $(check e "$e" 0.6) example app / no-auth, same token:        $e (>= 0.6)"
echo "  $(checkle m "$per_token" 2.0) RSS growth per cached token:          $per_token KiB (<= 2.0; $rss0 -> $rss1 KiB after $cached tokens)"
auth="$(awk -v a="${cpu[quickstart/distinct]}" -v b="${cpu[noauth/distinct]}" 'BEGIN {printf "%.1f", a - b}')"
echo "  quickstart CPU over no-auth per distinct token: $auth us (the floor is one RSA-2048 verify:"
echo "  'cargo bench -p clerk-core --features testing --bench verify -- raw_rsa' measures it)"
