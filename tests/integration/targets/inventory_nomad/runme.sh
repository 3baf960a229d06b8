#!/usr/bin/env bash
# The nomad inventory plugin against the plain sandbox (node and allocation hosts, plays over
# them), the secure one (TLS, ACLs, NOMAD_* variables, the token never shown), a sandbox of its
# own (a down twin, an unhealthy driver, pools, classes, metadata holding templates, the cache),
# and its errors. Effects are checked against Nomad's API, the inspection endpoint and the ready
# files, not against the plugin's answers. The sandbox facts come from integration_config.yml.
set -euxo pipefail

config=$(cd ../.. && pwd)/integration_config.yml
[ -f "$config" ]
python=${ANSIBLE_TEST_PYTHON_INTERPRETER:-python}
here=$(pwd)
work=$(mktemp -d)
edge_pid=
cleanup() {
    if [ -n "$edge_pid" ]; then
        kill "$edge_pid" 2>/dev/null || true
        wait "$edge_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

fact() {
    "$python" -c 'import sys, yaml; value = yaml.safe_load(open(sys.argv[1]))
for key in sys.argv[2].split("."):
    value = value[key]
print(value)' "$config" "$1"
}

# The target's own small cluster: nodes only, with the cases the shared cluster does not have.
cat > "$work/edge.yml" <<EOF
nodes:
  - {name: win-node-1, status: down, meta: {rack: r1}}
  - name: win-node-1
    node_pool: windows
    node_class: web
    meta:
      rack: r1
      probe: "EVALU{{ '' }}ATED {{ lookup('pipe', 'touch $work/evaluated') }}"
  - {name: win-node-2, datacenter: dc2, node_pool: windows, eligible: false, meta: {rack: r2}}
  - {name: win-node-3, drivers: {iis: unhealthy, raw_exec: healthy}, drain: true, management_api: false}
EOF
"$python" -m nomad_iis_sandbox serve --config "$work/edge.yml" --state-dir "$work/edge" --nomad-port 0 --api-port 0 \
    --inspect --ready-file "$work/edge.json" > "$work/edge.log" 2>&1 &
edge_pid=$!
for _ in $(seq 600); do
    [ -f "$work/edge.json" ] && break
    kill -0 "$edge_pid" || { cat "$work/edge.log"; exit 1; }
    sleep 0.1
done
"$python" -c 'import json, sys; json.dump({"edge": json.load(open(sys.argv[1]))}, open(sys.argv[2], "w"))' \
    "$work/edge.json" "$work/edge-vars.json"
unused_port=$("$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

vars=(-e "@$config" -e "@$work/edge-vars.json" -e "work=$work")
ansible-playbook setup.yml "${vars[@]}" -e "unused_port=$unused_port"

list() {
    # ansible-inventory --list, reduced to plain JSON (groups with their hosts, host variables)
    ansible-inventory -i "$work/$1.nomad.yml" --list --output "$work/$1.list.json"
    "$python" "$here/files/inventory_json.py" "$work/$1.list.json" "$work/$1.json"
}

# -- the plain sandbox: both host types, and plays over them
list plain-nodes
list plain-allocations
ansible-playbook check_plain.yml "${vars[@]}"
ansible-playbook -i "$work/plain-nodes.nomad.yml" nodes_play.yml "${vars[@]}"
ansible-playbook -i "$work/plain-allocations.nomad.yml" allocations_play.yml "${vars[@]}"
# host names are host patterns
ansible-inventory -i "$work/plain-allocations.nomad.yml" --graph --limit web-web-1 | grep -F -- '--web-web-1'

# -- the secure sandbox: TLS from the file or from NOMAD_* variables, the token from NOMAD_TOKEN
reader=$(fact sandbox_tokens.reader)
# (-vvvv output goes to stdout, so the inventory goes to a file, as AWX has it written)
NOMAD_TOKEN=$reader ansible-inventory -i "$work/secure-nodes.nomad.yml" --list -vvvv --output "$work/secure-nodes.list.json" \
    > "$work/secure-nodes.log" 2>&1
"$python" "$here/files/inventory_json.py" "$work/secure-nodes.list.json" "$work/secure-nodes.json"
env NOMAD_ADDR="$(fact sandbox_secure.nomad_addr)" NOMAD_TOKEN="$reader" NOMAD_CACERT="$(fact sandbox_secure.tls.ca_cert)" \
    NOMAD_CLIENT_CERT="$(fact sandbox_secure.tls.client_cert)" NOMAD_CLIENT_KEY="$(fact sandbox_secure.tls.client_key)" \
    NOMAD_TLS_SERVER_NAME="$(fact sandbox_secure.tls.server_name)" NOMAD_REGION='' \
    ansible-inventory -i "$work/secure-allocations.nomad.yml" --list -vvvv --output "$work/secure-allocations.list.json" \
    >> "$work/secure-nodes.log" 2>&1
"$python" "$here/files/inventory_json.py" "$work/secure-allocations.list.json" "$work/secure-allocations.json"
"$python" - "$work" "$config" <<'EOF'
import json, sys, yaml
work, config = sys.argv[1], yaml.safe_load(open(sys.argv[2]))
secure = config['sandbox_secure']
nodes = json.load(open(work + '/secure-nodes.json'))
assert nodes['hosts'] == sorted(n['name'] for n in secure['nodes']), nodes['hosts']
allocs = json.load(open(work + '/secure-allocations.json'))
ids = sorted(h['nomad_alloc_id'] for h in allocs['hostvars'].values())
# every namespace the reader may read: the reports job of namespace apps too
assert 'apps' in {h['nomad_namespace'] for h in allocs['hostvars'].values()}, allocs['hostvars']
assert set(ids) <= {a['id'] for a in secure['allocs']}, ids
EOF
for output in "$work"/secure-*.list.json "$work/secure-nodes.log"; do
    if grep -F "$reader" "$output"; then echo "the token is in $output"; exit 1; fi
done

# -- errors: one message naming the file and the cause, no token, and a failed source for AWX
fails() {
    # fails NAME TEXT [VAR=VALUE...]: the inventory source fails, with TEXT in its message
    local name=$1 text=$2
    shift 2
    if env "$@" ANSIBLE_INVENTORY_UNPARSED_FAILED=true ansible-inventory -i "$work/$name.nomad.yml" --list -vvvv \
            > "$work/$name.out" 2>&1; then
        echo "inventory $name must fail"; exit 1
    fi
    # Before 2.19 ansible-inventory wraps warnings at 79 columns, also inside hyphenated words:
    # compare without spaces and line breaks.
    tr -d ' \n' < "$work/$name.out" \
        | grep -F -- "$(printf '%s' "nomad_iis.management.nomad inventory $work/$name.nomad.yml: $text" | tr -d ' \n')"
}
fails unreachable "listing the nodes failed: cannot connect to http://127.0.0.1:$unused_port: connection refused (check nomad_addr)"
if grep -F "$(fact sandbox_tokens.operator)" "$work/unreachable.out"; then echo "the token is in the output"; exit 1; fi
fails bad-filter "listing the nodes matching filter 'Status = ready' failed: 400 failed to create result paginator: failed to read filter expression: "
logs_only=$(fact sandbox_tokens.logs-only)
fails secure-nodes "listing the nodes failed: 403 Permission denied from $(fact sandbox_secure.nomad_addr) (check nomad_token)" \
    NOMAD_TOKEN="$logs_only"
if grep -F "$logs_only" "$work/secure-nodes.out"; then echo "the token is in the output"; exit 1; fi

# -- the target's own sandbox: down twins, driver health, pools, classes; the cache
edge_inspect=$("$python" -c 'import json, sys; print(json.load(open(sys.argv[1]))["inspect_url"])' "$work/edge.json")
node_lists() {
    "$python" -c 'import json, sys, urllib.request
log = json.load(urllib.request.urlopen(sys.argv[1] + "/requests"))
print(sum(1 for r in log if r["path"] == "/v1/nodes"))' "$edge_inspect"
}
list edge-nodes
listed=$(node_lists)
list edge-nodes  # from the cache
[ "$(node_lists)" = "$listed" ]
# ansible-inventory takes --flush-cache only from ansible-core 2.17 on; ansible-playbook always did.
printf -- '- hosts: localhost\n  gather_facts: false\n  tasks: []\n' > "$work/nothing.yml"
ansible-playbook -i "$work/edge-nodes.nomad.yml" --flush-cache "$work/nothing.yml" > /dev/null
[ "$(node_lists)" = $((listed + 1)) ]
list edge-down
ansible-playbook check_edge.yml "${vars[@]}"

# -- metadata holding templates is never evaluated
ansible-playbook -i "$work/edge-nodes.nomad.yml" probe.yml "${vars[@]}" | tee "$work/probe.log"
grep -F "EVALU{{ '' }}ATED" "$work/probe.log"
if grep -F EVALUATED "$work/probe.log"; then echo "a template from Nomad was evaluated"; exit 1; fi
[ ! -e "$work/evaluated" ]
