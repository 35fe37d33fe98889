#!/usr/bin/env bash
# A base platform and N tenants (default 500) on moto with no edit of a stack file (issue #18):
# the repository's stacks as they are (`shards: auto`, `asg_max_size: auto`), base applied with
# larger private subnets given as a parameter, then `tenant create` N times, PARALLEL at a time.
# Reports AWS API calls (from --stats), wall time, load balancer shards, the Auto Scaling group's
# max size reached and the private subnets' free addresses (from `clawform capacity --json`).
#
#   scripts/bench-500.sh [N]
#
# Environment: CLAWFORM_BIN (default: a release build, made first), PARALLEL (4), BENCH_DIR,
# SUBNETS (the private_subnet_cidrs list given to base).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
N=${1:-500}
PARALLEL=${PARALLEL:-4}
SUBNETS=${SUBNETS:-[10.0.10.0/24, 10.0.11.0/24, 10.0.32.0/19, 10.0.64.0/19]}
BENCH_DIR=${BENCH_DIR:-$(mktemp -d /tmp/clawform-bench500.XXXXXX)}
mkdir -p "$BENCH_DIR/project/stacks" "$BENCH_DIR/logs"
BIN=${CLAWFORM_BIN:-$ROOT/target/release/clawform}
log() { echo "==> $*" >&2; }
now() { echo "$EPOCHREALTIME"; }
since() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$1" "$(now)"; }

if [[ -z ${CLAWFORM_BIN:-} ]]; then
  log "release build of the CLI (cargo build --release --bin clawform)"
  cargo build --release --bin clawform >&2
fi

# Never real AWS: no profile, no session, no instance metadata; the endpoint is moto's.
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_DEFAULT_PROFILE || true
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-west-2 AWS_EC2_METADATA_DISABLED=true NO_COLOR=1
export BENCH_API_KEY=sk-ant-bench500

MOTO_PID=
stop_moto() {
  if [[ -n $MOTO_PID ]]; then
    kill "$MOTO_PID" 2>/dev/null || true
    wait "$MOTO_PID" 2>/dev/null || true
  fi
}
trap stop_moto EXIT
scripts/setup-moto.sh >&2
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
MOTO_IAM_LOAD_MANAGED_POLICIES=true .venv/bin/moto_server -H 127.0.0.1 -p "$port" >"$BENCH_DIR/moto.log" 2>&1 &
MOTO_PID=$!
export AWS_ENDPOINT_URL=http://127.0.0.1:$port
for _ in $(seq 300); do
  curl -sf "$AWS_ENDPOINT_URL/moto-api/data.json" -o /dev/null && break
  sleep 0.1
done

# The stacks exactly as the repository has them.
cp stacks/base.yaml stacks/tenant.yaml "$BENCH_DIR/project/stacks/"
P=$BENCH_DIR/project
calls() { awk '$1 == "total" { s += $2 } END { print s + 0 }' "$@"; }

log "apply base with private_subnet_cidrs=$SUBNETS"
start=$(now)
"$BIN" -C "$P" apply base --auto-approve --stats --param "private_subnet_cidrs=$SUBNETS" >"$BENCH_DIR/logs/base.out" 2>"$BENCH_DIR/logs/base.err"
base_wall=$(since "$start")
base_calls=$(calls "$BENCH_DIR/logs/base.err")

log "create $N tenants, $PARALLEL at a time"
export BIN P BENCH_DIR
start=$(now)
seq -f "u%04g" 1 "$N" | xargs -P "$PARALLEL" -I{} sh -c \
  '"$BIN" -C "$P" tenant create {} --api-key-env BENCH_API_KEY --stats >"$BENCH_DIR/logs/{}.out" 2>"$BENCH_DIR/logs/{}.err" || { echo "tenant {} failed:" >&2; tail -5 "$BENCH_DIR/logs/{}.err" >&2; exit 255; }'
tenants_wall=$(since "$start")
tenant_calls=$(calls "$BENCH_DIR"/logs/u*.err)

created=$("$BIN" -C "$P" tenant list --json | jq '.tenants | length')
shards=$(jq '.outputs.alb_arns | length' "$P/state/base.json")
asg_max=$(jq '.params.asg_max_size' "$P/state/base.json")
capacity=$("$BIN" -C "$P" capacity --json)
needed=$(jq '.plan.addresses_needed' <<<"$capacity")
available=$(jq '.plan.subnet_addresses' <<<"$capacity")
instances=$(jq '.plan.instances' <<<"$capacity")

{
  echo "| step | wall | AWS API calls |"
  echo "|---|---:|---:|"
  echo "| \`apply base --param 'private_subnet_cidrs=$SUBNETS'\` | ${base_wall} s | $base_calls |"
  echo "| $created × \`tenant create\` ($PARALLEL at a time; base applies for shards and the group's max included) | ${tenants_wall} s | $tenant_calls |"
  echo
  echo "Load balancer shards: $shards. Auto Scaling group max size reached: $asg_max (instances needed: $instances)."
  echo "Private addresses: $needed needed of $available ($((available - needed)) free; one per task, one per instance, AWS keeps 5 per subnet)."
} | tee "$BENCH_DIR/results.md"
