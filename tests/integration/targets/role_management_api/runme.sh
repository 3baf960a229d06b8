#!/usr/bin/env bash
# The management_api role and the upgrade_driver playbook against a sandbox of their own
# (files/cluster.yml: win-a and win-b with driver 0.19.0, win-c without one), whose Nomad nodes
# are the inventory's hosts (ansible_connection local). The Windows host steps are done through
# the sandbox's inspection endpoint by files/node_tasks_sandbox.yml (management_api_node_tasks).
# Scenarios: argument validation and preflight (no secret in the output, also at -vvv), a first
# install, an upgrade of two nodes one after the other with allocations moving and coming back, a
# run that changes nothing, a start that fails and is rolled back, and the refusal to drain the
# last healthy node. files/check.py verifies each through the sandbox, not through Ansible.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
# Every ansible-core environment of the tests has the sandbox installed.
python -m nomad_iis_sandbox serve --config "$here/files/cluster.yml" --state-dir "$work/state" \
    --ready-file "$work/ready.json" --nomad-port 0 --api-port 0 --api-key old-key-0123 --inspect \
    > "$work/sandbox.log" 2>&1 &
sandbox_pid=$!
cleanup() {
    kill "$sandbox_pid" 2>/dev/null || true
    wait "$sandbox_pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
for _ in $(seq 600); do
    [ -f "$work/ready.json" ] && break
    if ! kill -0 "$sandbox_pid" 2>/dev/null; then cat "$work/sandbox.log"; exit 1; fi
    sleep 0.1
done
python "$here/files/setup.py" "$work/ready.json" "$work" "$here/files/node_tasks_sandbox.yml"
nomad_addr=$(python -c 'import json, sys; print(json.load(open(sys.argv[1]))["nomad_addr"])' "$work/ready.json")

play() {
    ansible-playbook -i "$work/inventory.yml" nomad_iis.management.upgrade_driver -e upgrade_driver_hosts=windows "$@"
}
release() {
    echo "-e management_api_version=$1 -e management_api_zip_src=$work/nomad_iis_mgmt_api-$1.zip"
}
check() {
    python "$here/files/check.py" "$work/ready.json" "$work/state.json" "$@"
}
eligible() {  # node, true|false
    ansible localhost -m nomad_iis.management.nomad_node -a "node=$1 eligible=$2 nomad_addr=$nomad_addr" > /dev/null
}
refused() {  # name, grep pattern, ansible-playbook options...: the run fails, says why, shows no secret
    local name=$1 pattern=$2
    shift 2
    if play --limit win-a -vvv "$@" > "$work/$name.log" 2>&1; then
        echo "$name: the run should have failed"; exit 1
    fi
    if ! grep -q -- "$pattern" "$work/$name.log"; then
        cat "$work/$name.log"; echo "$name: no '$pattern' in the output"; exit 1
    fi
    if grep -q -e SECRET-VALUE -e role-api-key-0123456789 "$work/$name.log"; then
        echo "$name: a secret is in the output"; exit 1
    fi
}

check start

# shellcheck disable=SC2046  # release's options are split on purpose
{
    refused wrong_type "unable to convert to int" $(release 0.20.1) -e management_api_port=not-a-port
    refused missing_version "missing required arguments: management_api_version" -e management_api_zip_src=x.zip
    refused no_credentials "neither management_api_key nor management_api_jwt_secret is set" $(release 0.20.1) \
        -e management_api_key=
    refused short_secret "management_api_jwt_secret must be at least 32 characters" $(release 0.20.1) \
        -e management_api_key= -e management_api_jwt_secret=SHORT-SECRET-VALUE
    refused secret_type "management_api_jwt_secret" $(release 0.20.1) \
        -e '{"management_api_jwt_secret": {"nested": "SECRET-VALUE-0123456789abcdef0123456789"}}'
    refused bad_key "management_api_key may hold letters" $(release 0.20.1) -e "management_api_key='SECRET-VALUE with space'"
    refused jwt_too_old "needs driver 0.12.0 or newer" $(release 0.11.0) -e management_api_key= \
        -e management_api_jwt_secret=SECRET-VALUE-0123456789abcdef0123456789
    refused not_pinned "Set management_api_zip_sha256" -e management_api_version=0.20.1

    play $(release 0.20.1) --limit win-c "$@" | tee "$work/first.log"
    check first_install "$work/first.log"

    play $(release 0.20.1) "$@" | tee "$work/upgrade.log"
    check upgrade_two "$work/upgrade.log"

    play $(release 0.20.1) "$@" | tee "$work/unchanged.log"
    check unchanged "$work/unchanged.log"

    if play $(release 0.21.0) -e '{"sandbox_fail_start": ["win-a"]}' -e management_api_ready_timeout=8 "$@" > "$work/failed.log" 2>&1; then
        cat "$work/failed.log"; echo "a start that fails must fail the play"; exit 1
    fi
    cat "$work/failed.log"
    check failed_start "$work/failed.log"
    eligible win-a true

    eligible win-b false
    eligible win-c false
    check mark
    if play $(release 0.21.0) --limit win-a "$@" > "$work/last.log" 2>&1; then
        cat "$work/last.log"; echo "draining the last healthy node must be refused"; exit 1
    fi
    check last_node "$work/last.log"
    eligible win-b true
    eligible win-c true
}
