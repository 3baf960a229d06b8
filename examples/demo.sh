#!/usr/bin/env bash
# `make demo`: start the sandbox's demo cluster, run the deploy-and-test playbook with the sample
# application, say where the artifacts are, and stop the sandbox (by PID), leaving no process behind.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV_BIN=${VENV_BIN:-$REPO/.venv/bin}
ARTIFACTS=${ARTIFACTS:-$REPO/artifacts/demo}
work=$(mktemp -d)
sandbox_pid=

stop_sandbox() {
    if [ -n "$sandbox_pid" ] && kill -0 "$sandbox_pid" 2>/dev/null; then
        kill -TERM "$sandbox_pid"
        wait "$sandbox_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap stop_sandbox EXIT

# The playbook runs as nomad_iis.management.deploy_and_test from this checkout.
mkdir -p "$work/collections/ansible_collections/nomad_iis"
ln -s "$REPO" "$work/collections/ansible_collections/nomad_iis/management"

echo "==> starting the sandbox's demo cluster"
"$VENV_BIN/nomad-iis-sandbox" serve --nomad-port 0 --api-port 0 --ready-file "$work/ready.json" \
    > "$work/sandbox.log" 2>&1 &
sandbox_pid=$!
for _ in $(seq 600); do
    [ -s "$work/ready.json" ] && break
    kill -0 "$sandbox_pid" 2>/dev/null || { cat "$work/sandbox.log"; exit 1; }
    sleep 0.1
done
[ -s "$work/ready.json" ] || { echo "the sandbox did not start"; cat "$work/sandbox.log"; exit 1; }

ready() { "$VENV_BIN/python" -c "import json, sys; print(eval(sys.argv[1], {'r': json.load(open(sys.argv[2]))}))" "$1" "$work/ready.json"; }
NOMAD_ADDR=$(ready "r['nomad_addr']")
NOMAD_IIS_API_KEY=$(ready "r['nodes'][0]['api_key']")
export NOMAD_ADDR NOMAD_IIS_API_KEY
echo "    Nomad API: $NOMAD_ADDR, Management API: $(ready "r['nodes'][0]['management_api_url']")"

echo "==> deploying examples/sample-app to job web"
rm -rf "$ARTIFACTS"
# The playbook runs on the implicit localhost, as the collection's modules do: no inventory is needed,
# so ansible's warnings about the missing one would only be noise.
ANSIBLE_COLLECTIONS_PATH="$work/collections" ANSIBLE_STDOUT_CALLBACK=default \
    ANSIBLE_LOCALHOST_WARNING=false ANSIBLE_INVENTORY_UNPARSED_WARNING=false \
    "$VENV_BIN/ansible-playbook" nomad_iis.management.deploy_and_test \
    -e deploy_job=web -e "deploy_src=$REPO/examples/sample-app" -e "deploy_artifacts_dir=$ARTIFACTS" \
    -e "deploy_smoke_text='Hello from IIS under Nomad'"

echo "==> artifacts in $ARTIFACTS:"
find "$ARTIFACTS" -type f | sed 's/^/    /'
stop_sandbox
sandbox_pid=
echo "==> the sandbox has stopped"
