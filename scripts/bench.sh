#!/usr/bin/env bash
# Benchmarks of issue #8, re-runnable by anyone: prints Markdown tables to paste into README.md.
#
#   scripts/bench.sh                 # offline plans (N = 0 100 500 2000) and moto (N = 10 100 500)
#   scripts/bench.sh 10              # a quick run: moto with 10 tenants only (and offline sizes)
#   scripts/bench.sh --moto-only 10 100
#   scripts/bench.sh --offline-only
#
# Offline: state "as if applied" is written by `examples/fake_state.rs` (the real planner and
# engine with a provider that invents ids, no AWS call); then `tenant plan --all --refresh=false
# --param image_tag=v2` (every tenant has a change) runs under /usr/bin/time -v for wall time and
# peak RSS. Sizes: OFFLINE_SIZES="0 100 500 2000".
#
# moto: a moto server started here on 127.0.0.1 (stopped at the end), a release build, and for
# each N a fresh account and project folder: apply base, create N-1 tenants (20 at a time, as
# tests/drift_scale.rs does), then measure
#   - one `tenant create` (the N-th tenant): wall time and API calls (`--stats`);
#   - `drift --all`: wall time and API calls, beside the fewest calls the APIs' batch sizes allow
#     for the resources in state (scripts/bench_floor.py);
#   - `tenant apply --all` of a new image tag with --parallelism 1, then of another tag with
#     --parallelism $PARALLEL (default 10): wall times and their ratio;
#   - the same two rollouts again through a proxy that delays every request by $LATENCY_MS
#     (default 50) ms before moto sees it (crates/testkit/examples/latency_proxy.rs): the round
#     trip an AWS call has and moto on loopback does not. LATENCY_MS=0 skips them.
# Everything a run prints or writes stays in $BENCH_DIR (default: a new folder under /tmp).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

MODE=all
case "${1:-}" in
  --moto-only) MODE=moto; shift ;;
  --offline-only) MODE=offline; shift ;;
  -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
esac
SIZES=("$@")
[[ ${#SIZES[@]} -gt 0 ]] || SIZES=(10 100 500)
read -r -a OFFLINE <<<"${OFFLINE_SIZES:-0 100 500 2000}"
# STACKS: where base.yaml and tenant.yaml are copied from (default: this repository's stacks/).
STACKS=${STACKS:-$ROOT/stacks}
PARALLEL=${PARALLEL:-10}
LATENCY_MS=${LATENCY_MS:-50}
WAVE=${WAVE:-20}
BENCH_DIR=${BENCH_DIR:-$(mktemp -d /tmp/clawform-bench.XXXXXX)}
mkdir -p "$BENCH_DIR"
RESULTS=$BENCH_DIR/results.md
: >"$RESULTS"
# CLAWFORM_BIN: a clawform binary to measure instead of building target/release/clawform.
BIN=${CLAWFORM_BIN:-$ROOT/target/release/clawform}

log() { echo "==> $*" >&2; }
now() { echo "$EPOCHREALTIME"; }
since() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.2f}')" "$1" "$(now)"; }
# CPU seconds moto's server process has used so far (it is one Python process).
moto_cpu() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$MOTO_PID/stat"; }
# The `total` line of --stats on stderr: "  total   N calls ..."
total_calls() { awk '$1 == "total" { print $2 }' "$1"; }

if [[ -z ${CLAWFORM_BIN:-} ]]; then
  log "release build of the CLI (cargo build --release --bin clawform)"
  cargo build --release --bin clawform >&2
fi
PROXY_BIN=$ROOT/target/release/examples/latency_proxy
if [[ $MODE != offline && $LATENCY_MS -gt 0 ]]; then
  log "release build of the latency proxy (cargo build --release -p clawform-testkit --example latency_proxy)"
  cargo build --release -p clawform-testkit --example latency_proxy >&2
fi

# Never real AWS: no profile, no session, no instance metadata; the endpoint is moto's.
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_DEFAULT_PROFILE || true
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-west-2 AWS_EC2_METADATA_DISABLED=true NO_COLOR=1

machine() {
  local cpu mem
  cpu=$(lscpu 2>/dev/null | awk -F: '/^Model name/ { gsub(/^ +/, "", $2); print $2; exit }')
  mem=$(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)
  echo "$(nproc) cores (${cpu:-unknown CPU}), $mem RAM, $(uname -sr)"
}

{
  echo "Machine: $(machine); $(rustc --version); clawform $(git rev-parse --short HEAD 2>/dev/null || echo '?'); $(date -u +%Y-%m-%d); load average at start $(cut -d' ' -f1-3 /proc/loadavg)"
  echo
} >>"$RESULTS"

# ------------------------------------------------------------------------------------- offline
run_offline() {
  log "offline plans: fake applied state for N = ${OFFLINE[*]}"
  cargo build --example fake_state >&2
  {
    echo "### Offline plan (no AWS call), state as if applied, image_tag change pending for every tenant"
    echo
    echo "| tenants | resources | command | wall | CPU (user + sys) | peak RSS | tenants with changes |"
    echo "|---:|---:|---|---:|---:|---:|---:|"
  } >>"$RESULTS"
  for n in "${OFFLINE[@]}"; do
    local dir=$BENCH_DIR/offline-$n
    rm -rf "$dir"
    "$ROOT/target/debug/examples/fake_state" "$dir" "$n" >&2
    local resources
    resources=$(cat "$dir"/state/*.json | jq -s '[.[].resources | length] | add')
    # Warm the page cache once, then measure.
    "$BIN" -C "$dir" tenant plan --all --refresh=false --param image_tag=v2 >/dev/null
    /usr/bin/time -v "$BIN" -C "$dir" tenant plan --all --refresh=false --param image_tag=v2 >"$dir/plan.out" 2>"$dir/time.txt"
    local wall cpu rss changed
    cpu=$(awk -F': ' '/User time|System time/ { s += $2 } END { printf "%.0f ms", s * 1000 }' "$dir/time.txt")
    wall=$(awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; printf "%.0f ms", s * 1000 }' "$dir/time.txt")
    rss=$(awk -F': ' '/Maximum resident set size/ { printf "%.1f MB", $2 / 1024 }' "$dir/time.txt")
    changed=$(awk '/tenants have changes/ { print $1 }' "$dir/plan.out")
    echo "| $n | $resources | \`clawform tenant plan --all --refresh=false --param image_tag=v2\` | $wall | $cpu | $rss | ${changed:-0} |" >>"$RESULTS"
  done
  echo >>"$RESULTS"
}

# ------------------------------------------------------------------------------------- moto
MOTO_PID=
PROXY_PID=
stop_moto() {
  for pid in $PROXY_PID $MOTO_PID; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  PROXY_PID= MOTO_PID=
}
trap stop_moto EXIT

start_moto() {
  scripts/setup-moto.sh
  local port
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  MOTO_IAM_LOAD_MANAGED_POLICIES=true .venv/bin/moto_server -H 127.0.0.1 -p "$port" >"$BENCH_DIR/moto.log" 2>&1 &
  MOTO_PID=$!
  export AWS_ENDPOINT_URL=http://127.0.0.1:$port
  for _ in $(seq 300); do
    curl -sf "$AWS_ENDPOINT_URL/moto-api/data.json" -o /dev/null && return 0
    sleep 0.1
  done
  echo "moto did not start on $AWS_ENDPOINT_URL (see $BENCH_DIR/moto.log)" >&2
  exit 1
}

MOTO_VERSION=
moto_rows=()
latency_rows=()
drift_details=()

moto_run() {
  local n=$1 p=$BENCH_DIR/moto-$n
  [[ $n -ge 1 ]] || { echo "N must be at least 1" >&2; exit 1; }
  log "moto, N = $n: fresh account and project in $p"
  curl -sf -X POST "$AWS_ENDPOINT_URL/moto-api/reset" -o /dev/null
  rm -rf "$p"
  mkdir -p "$p/stacks" "$p/logs"
  cp "$STACKS/base.yaml" "$STACKS/tenant.yaml" "$p/stacks/"
  export BENCH_API_KEY=sk-ant-bench-not-a-real-key

  local t0
  t0=$(now)
  "$BIN" -C "$p" apply base --auto-approve >"$p/logs/base.out" 2>&1
  local base_s
  base_s=$(since "$t0")

  log "creating $((n - 1)) tenants, $WAVE at a time"
  t0=$(now)
  if [[ $n -gt 1 ]]; then
    seq -f 'bench%05g' 0 $((n - 2)) | xargs -P "$WAVE" -I{} sh -c \
      '"$0" -C "$1" tenant create {} --api-key-env BENCH_API_KEY --json >"$1/logs/{}.out" 2>&1 || { echo "tenant create {} failed:"; cat "$1/logs/{}.out"; exit 255; }' "$BIN" "$p"
  fi
  local fill_s
  fill_s=$(since "$t0")

  log "one tenant create, measured"
  local id
  id=$(printf 'bench%05d' $((n - 1)))
  t0=$(now)
  "$BIN" -C "$p" tenant create "$id" --api-key-env BENCH_API_KEY --json --stats >"$p/logs/create.out" 2>"$p/logs/create.err"
  local create_s create_calls
  create_s=$(since "$t0")
  create_calls=$(total_calls "$p/logs/create.err")

  log "drift --all"
  t0=$(now)
  local rc=0
  "$BIN" -C "$p" drift --all --stats >"$p/logs/drift.out" 2>"$p/logs/drift.err" || rc=$?
  local drift_s drift_calls floor
  drift_s=$(since "$t0")
  [[ $rc -eq 0 || $rc -eq 2 ]] || { cat "$p/logs/drift.err" >&2; exit 1; }
  [[ $rc -eq 0 ]] || log "drift --all exited $rc (drift found: see $p/logs/drift.out)"
  drift_calls=$(total_calls "$p/logs/drift.err")
  python3 scripts/bench_floor.py "$p/state" "$p/logs/drift.err" >"$p/logs/floor.md"
  floor=$(awk '/^\| \*\*total\*\*/ { gsub(/\*/, "", $0); split($0, f, "|"); gsub(/ /, "", f[4]); print f[4] }' "$p/logs/floor.md")
  drift_details+=("#### drift --all, base + $n tenants: calls by operation" "" "$(cat "$p/logs/floor.md")" "")

  rollout "$p" v2 1 "$AWS_ENDPOINT_URL"
  local serial=$ROLLOUT
  rollout "$p" v3 "$PARALLEL" "$AWS_ENDPOINT_URL"
  local parallel=$ROLLOUT
  local ratio
  ratio=$(python3 -c "import sys; print(f'{int(sys.argv[1]) / int(sys.argv[2]):.2f}')" "$drift_calls" "$floor")
  moto_rows+=("| $n | ${base_s} s / ${fill_s} s | ${create_calls} calls, ${create_s} s | ${drift_calls} calls (floor ${floor}, ${ratio}×), ${drift_s} s | ${serial% *} | ${parallel% *} | $(speedup "${serial##* }" "${parallel##* }")× |")

  if [[ $LATENCY_MS -gt 0 ]]; then
    log "the same rollouts through a proxy adding $LATENCY_MS ms to every request"
    local proxy_out=$BENCH_DIR/proxy-$n.out
    "$PROXY_BIN" "$AWS_ENDPOINT_URL" "$LATENCY_MS" >"$proxy_out" 2>"$BENCH_DIR/proxy-$n.err" &
    PROXY_PID=$!
    for _ in $(seq 100); do [[ -s $proxy_out ]] && break; sleep 0.1; done
    local proxied
    proxied=$(head -n1 "$proxy_out")
    rollout "$p" v4 1 "$proxied"
    serial=$ROLLOUT
    rollout "$p" v5 "$PARALLEL" "$proxied"
    parallel=$ROLLOUT
    kill "$PROXY_PID"; wait "$PROXY_PID" 2>/dev/null || true; PROXY_PID=
    latency_rows+=("| $n | ${serial% *} | ${parallel% *} | $(speedup "${serial##* }" "${parallel##* }")× |")
  fi
  cp "$p/logs/create.err" "$BENCH_DIR/create-$n.stats"
}

# `tenant apply --all` of image tag $2 in project $1 with --parallelism $3, the SDK pointed at
# $4. Sets ROLLOUT to "CELL SECONDS": a table cell (wall time, calls, how busy moto was) and the
# wall time alone.
rollout() {
  local p=$1 tag=$2 parallelism=$3 endpoint=$4
  log "tenant apply --all, image_tag=$tag, parallelism $parallelism, via $endpoint"
  local c0 t0 s calls busy
  c0=$(moto_cpu)
  t0=$(now)
  AWS_ENDPOINT_URL=$endpoint "$BIN" -C "$p" tenant apply --all --param "image_tag=$tag" --auto-approve --parallelism "$parallelism" --stats >"$p/logs/apply-$tag.out" 2>"$p/logs/apply-$tag.err"
  s=$(since "$t0")
  calls=$(total_calls "$p/logs/apply-$tag.err")
  busy=$(python3 -c "import sys; print(f'{(float(sys.argv[2]) - float(sys.argv[1])) / float(sys.argv[3]) * 100:.0f}')" "$c0" "$(moto_cpu)" "$s")
  ROLLOUT="${s} s (${calls} calls; moto busy ${busy}%) $s"
}

speedup() { python3 -c "import sys; print(f'{float(sys.argv[1]) / float(sys.argv[2]):.1f}')" "$1" "$2"; }

run_moto() {
  start_moto
  MOTO_VERSION=$(.venv/bin/python -c 'import moto; print(moto.__version__)')
  for n in "${SIZES[@]}"; do
    moto_run "$n"
  done
  stop_moto
  {
    echo "### Against moto $MOTO_VERSION (single-threaded Python server on 127.0.0.1), release build"
    echo
    echo "| tenants | apply base / create N-1 tenants ($WAVE at a time) | one \`tenant create\` | \`drift --all\` | \`tenant apply --all\` --parallelism 1 | --parallelism $PARALLEL | speed-up |"
    echo "|---:|---|---|---|---|---|---:|"
    printf '%s\n' "${moto_rows[@]}"
    echo
    echo "Commands: \`clawform tenant create ID --api-key-env VAR --json --stats\`; \`clawform drift --all --stats\`;"
    echo "\`clawform tenant apply --all --param image_tag=v2 --auto-approve --parallelism 1 --stats\` (then \`image_tag=v3\`, \`--parallelism $PARALLEL\`)."
    echo "\"moto busy\": CPU time of moto's server process over the wall time of the run (100% = one core, all a single-threaded server can use)."
    echo
    if [[ ${#latency_rows[@]} -gt 0 ]]; then
      echo "#### The same rollouts with $LATENCY_MS ms added to every request (crates/testkit/examples/latency_proxy.rs), as AWS's round trip adds"
      echo
      echo "| tenants | \`tenant apply --all\` --parallelism 1 | --parallelism $PARALLEL | speed-up |"
      echo "|---:|---|---|---:|"
      printf '%s\n' "${latency_rows[@]}"
      echo
    fi
    printf '%s\n' "${drift_details[@]}"
    local last=${SIZES[-1]}
    echo "#### one tenant create (the ${last}th tenant): calls by operation"
    echo
    echo '```'
    sed -n '/AWS API calls/,$p' "$BENCH_DIR/create-$last.stats"
    echo '```'
    echo
  } >>"$RESULTS"
}

case $MODE in
  all) run_offline; run_moto ;;
  offline) run_offline ;;
  moto) run_moto ;;
esac

echo
cat "$RESULTS"
log "results in $RESULTS; logs and state under $BENCH_DIR"
