#!/usr/bin/env bash
# Runs every test of the workspace. Installs what the tests need first (moto into .venv,
# checkov into .venv-checkov, terraform-compliance into .venv-compliance);
# the tests start moto's server themselves on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-moto.sh
scripts/setup-checkov.sh   # tests/checkov.rs runs it on the stacks' plans
scripts/setup-compliance.sh   # tests/compliance.rs runs terraform-compliance on them
# Tests talk to moto on loopback only; make sure no real credentials or profile leak in.
unset AWS_PROFILE AWS_SESSION_TOKEN || true
export AWS_EC2_METADATA_DISABLED=true
cargo test --workspace --all-targets "$@"
