#!/usr/bin/env bash
# The main job, end to end on this machine: starts moto's server on loopback, then runs
# validate -> plan -> apply -> plan (no changes) on the base platform (stacks/base.yaml),
# creates three tenants, lists them, destroys one, rolls a new image tag out to the others,
# and destroys everything. State goes to a temporary project folder, never to state/.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-moto.sh
# The same build as scripts/test.sh (`--workspace --all-targets` resolves the same features),
# so running one after the other builds the AWS SDK once. Cargo shows its progress.
echo "==> building clawform (a first build takes several minutes; scripts/test.sh shares it)" >&2
cargo build --workspace --all-targets
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
cp stacks/base.yaml stacks/tenant.yaml "$project/stacks/"
cf() { echo; echo "\$ clawform $*"; "$bin" -C "$project" "$@"; }
# A command whose output is long: its header, then only the lines a reader looks for (the plan
# summary, "Apply complete!", warnings), and how many were left out.
cf_brief() {
  echo; echo "\$ clawform $*"
  local out
  out=$("$bin" -C "$project" "$@") || { echo "$out"; return 1; }
  grep -E "^(Plan:|No changes|Apply complete!|Destroy complete!|Warning:|[0-9]+ of [0-9]+ tenants)" <<<"$out" || true
  echo "  ($(wc -l <<<"$out") lines of output; run the command yourself to see them all)"
}

cf validate base
cf_brief plan base
cf_brief apply base --auto-approve
set +e
cf plan base --detailed-exitcode
code=$?
set -e
echo "(exit code $code: 0 means no changes)"
[[ $code -eq 0 ]] || { echo "demo failed: the second plan is not empty" >&2; exit 1; }

# A tenant's API key comes from the environment (or a file), never from argv or YAML.
export DEMO_API_KEY="sk-ant-demo-not-a-real-key"
for id in abc123 def456 ghi789; do
  cf tenant create "$id" --api-key-env DEMO_API_KEY --json
done
cf tenant list
cf_brief tenant destroy def456 --auto-approve
cf_brief tenant plan --all --param image_tag=v2
cf tenant apply --all --param image_tag=v2 --auto-approve
cf tenant list
if grep -rq "$DEMO_API_KEY" "$project/state"; then echo "demo failed: a secret is in state" >&2; exit 1; fi
echo "(the API key appears nowhere under state/)"
for id in abc123 ghi789; do
  cf_brief tenant destroy "$id" --auto-approve
done
cf_brief destroy base --auto-approve
echo; echo "Demo complete: moto on 127.0.0.1:$port, project in $project (removed on exit)."
