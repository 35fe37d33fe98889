#!/usr/bin/env bash
# A fleet rollout under AWS's throttling buckets (issue #14): base + N tenants on a fresh moto,
# then `tenant apply --all --param image_tag=v2` through the testkit's AWS behaviour layer
# (crates/testkit/examples/aws_behaviour_proxy.rs) with only its throttling buckets and its
# latency on. Reports failed tenants, wall time, requests throttled per bucket, and the ratio of
# the wall time to the bucket floor: the least time AWS's RegisterTaskDefinition bucket (20
# tokens, refilled 1 a second) allows N registrations, (N - 20) / refill.
#
#   scripts/bench-throttle.sh [N] [SCALE]    # defaults: 500 tenants, scale 0.1
#
# SCALE multiplies AWS's durations (refills go 1/SCALE times faster; bucket sizes stay): at 0.1
# a 500-tenant rollout's floor is 48 s instead of 480 s, with the same shape. clawform runs with
# CLAWFORM_WAIT_SCALE=SCALE, so its pacing of the ECS buckets and its waits use the same clock
# as the layer (at 1 both are AWS's). PARALLEL (10) is
# the rollout's --parallelism; LATENCY_MS (50) the round trip added to every request.
# CLAWFORM_BIN: a clawform binary to use instead of target/debug/clawform.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
N=${1:-500}
SCALE=${2:-0.1}
PARALLEL=${PARALLEL:-10}
LATENCY_MS=${LATENCY_MS:-50}
WAVE=${WAVE:-20}
DIR=${BENCH_DIR:-$(mktemp -d /tmp/clawform-throttle.XXXXXX)}
BIN=${CLAWFORM_BIN:-$ROOT/target/debug/clawform}

log() { echo "==> $*" >&2; }
now() { echo "$EPOCHREALTIME"; }
since() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$1" "$(now)"; }

export CLAWFORM_WAIT_SCALE=$SCALE
if [[ -z ${CLAWFORM_BIN:-} ]]; then
  log "building the CLI and the behaviour layer (debug; the rollout's time is AWS's buckets, not CPU)"
  cargo build --bin clawform >&2
fi
cargo build -p clawform-testkit --example aws_behaviour_proxy >&2
LAYER_BIN=$ROOT/target/debug/examples/aws_behaviour_proxy

unset AWS_PROFILE AWS_SESSION_TOKEN AWS_DEFAULT_PROFILE || true
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-west-2 AWS_EC2_METADATA_DISABLED=true NO_COLOR=1

MOTO_PID= LAYER_PID=
stop() {
  for pid in $LAYER_PID $MOTO_PID; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
}
trap stop EXIT

scripts/setup-moto.sh >&2
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
MOTO_IAM_LOAD_MANAGED_POLICIES=true .venv/bin/moto_server -H 127.0.0.1 -p "$port" >"$DIR/moto.log" 2>&1 &
MOTO_PID=$!
MOTO=http://127.0.0.1:$port
for _ in $(seq 300); do curl -sf "$MOTO/moto-api/data.json" -o /dev/null && break; sleep 0.1; done

p=$DIR/project
mkdir -p "$p/stacks" "$p/logs"
cp stacks/base.yaml stacks/tenant.yaml "$p/stacks/"
export BENCH_API_KEY=sk-ant-bench-not-a-real-key
log "apply base and create $N tenants ($WAVE at a time) straight on moto"
AWS_ENDPOINT_URL=$MOTO "$BIN" -C "$p" apply base --auto-approve >"$p/logs/base.out" 2>&1
seq -f 'tenant%05g' 0 $((N - 1)) | AWS_ENDPOINT_URL=$MOTO xargs -P "$WAVE" -I{} sh -c \
  '"$0" -C "$1" tenant create {} --api-key-env BENCH_API_KEY --json >"$1/logs/{}.out" 2>&1 || { echo "tenant create {} failed:"; cat "$1/logs/{}.out"; exit 255; }' "$BIN" "$p"

log "the behaviour layer: throttling only, scale $SCALE, $LATENCY_MS ms per request"
"$LAYER_BIN" "$MOTO" --scale "$SCALE" --latency-ms "$LATENCY_MS" --behaviours throttling --report "$DIR/layer.json" --every-ms 500 >"$DIR/layer.endpoint" 2>"$DIR/layer.log" &
LAYER_PID=$!
for _ in $(seq 100); do [[ -s $DIR/layer.endpoint ]] && break; sleep 0.1; done
LAYER=$(head -1 "$DIR/layer.endpoint")

log "tenant apply --all --param image_tag=v2 --parallelism $PARALLEL through $LAYER"
t0=$(now)
set +e
AWS_ENDPOINT_URL=$LAYER "$BIN" -C "$p" tenant apply --all --param image_tag=v2 --auto-approve --parallelism "$PARALLEL" --stats >"$p/logs/rollout.out" 2>"$p/logs/rollout.err"
code=$?
set -e
wall=$(since "$t0")
sleep 1
failed=$(grep -Eo '[0-9]+ failed' "$p/logs/rollout.out" "$p/logs/rollout.err" | head -1 | grep -Eo '[0-9]+' || echo 0)
python3 - "$DIR/layer.json" "$N" "$SCALE" "$wall" "$code" "$failed" "$PARALLEL" <<'EOF'
import json, sys
report, n, scale, wall, code, failed, parallel = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5]), sys.argv[6], sys.argv[7]
layer = json.load(open(report))
floor = max(n - 20, 0) / (1.0 / scale)
throttled = ", ".join(f"{k} {v}" for k, v in sorted(layer.get("throttled", {}).items())) or "none"
print(f"| tenants | scale | parallelism | exit | failed tenants | wall | floor | ratio | requests | throttled |")
print(f"|---|---|---|---|---|---|---|---|---|---|")
print(f"| {n} | {scale} | {parallel} | {code} | {failed} | {wall:.1f} s | {floor:.1f} s | {wall / floor if floor else 0:.2f} | {layer.get('requests')} | {throttled} |")
EOF
echo "(logs in $DIR)" >&2
