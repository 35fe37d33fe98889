#!/usr/bin/env bash
# The main job, end to end on this machine: starts moto's server on loopback, then runs
# validate -> plan -> apply -> plan (no changes) -> destroy on stacks/network.yaml.
# State goes to a temporary project folder so that the demo never touches state/.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-moto.sh
cargo build --quiet --bin clawform
bin="$PWD/target/debug/clawform"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
MOTO_IAM_LOAD_MANAGED_POLICIES=true .venv/bin/moto_server -H 127.0.0.1 -p "$port" >/dev/null 2>&1 &
moto_pid=$!
project=$(mktemp -d)
trap 'kill $moto_pid 2>/dev/null || true; rm -rf "$project"' EXIT
for _ in $(seq 100); do
  python3 -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:$port/moto-api/data.json', timeout=1)" 2>/dev/null && break
  sleep 0.1
done

export AWS_ENDPOINT_URL="http://127.0.0.1:$port" AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-west-2 AWS_EC2_METADATA_DISABLED=true
unset AWS_PROFILE || true
mkdir -p "$project/stacks"
cp stacks/network.yaml "$project/stacks/"
cf() { echo; echo "\$ clawform $*"; "$bin" -C "$project" "$@"; }

cf validate network
cf plan network
cf apply network --auto-approve
set +e
cf plan network --detailed-exitcode
code=$?
set -e
echo "(exit code $code: 0 means no changes)"
[[ $code -eq 0 ]] || { echo "demo failed: the second plan is not empty" >&2; exit 1; }
cf state list network
cf output network
cf destroy network --auto-approve
echo; echo "Demo complete: moto on 127.0.0.1:$port, project in $project (removed on exit)."
