#!/usr/bin/env bash
# The deploy-and-test playbook against the plain sandbox's job `web` (two allocations on two nodes):
# a first deployment, an unchanged second one, a new version, and a failing smoke check that
# collects diagnostics. The sandbox facts come from ansible-test's copy of integration_config.yml.
set -euxo pipefail

config=$(cd ../.. && pwd)/integration_config.yml
[ -f "$config" ]
set -- "$@" -e "@$config"

artifacts=$(mktemp -d)
trap 'rm -rf "$artifacts"' EXIT
connection=(-e 'nomad_addr={{ sandbox.nomad_addr }}' -e 'nomad_iis_api_key={{ sandbox.api_key }}')
deploy() {
    # Later -e options win: the caller's come last.
    ansible-playbook nomad_iis.management.deploy_and_test "${connection[@]}" \
        -e deploy_job=web -e "deploy_artifacts_dir=$artifacts/run" \
        -e "deploy_smoke_text='Hello from IIS under Nomad'" "$@"
}

site=$(mktemp -d)
cp -r "$(dirname "$0")/files/site/." "$site/"

deploy "$@" -e "deploy_src=$site" | tee "$artifacts/first.log"
ansible-playbook verify.yml "$@" -e "artifacts=$artifacts/run" -e expected_version=1.0.0 -e step=first

deploy "$@" -e "deploy_src=$site" | tee "$artifacts/second.log"
# Only the screenshot task may report a change the second time.
grep -E 'localhost +: ok=[0-9]+ +changed=1 ' "$artifacts/second.log"
ansible-playbook verify.yml "$@" -e "artifacts=$artifacts/run" -e expected_version=1.0.0 -e step=second

echo "1.1.0" > "$site/VERSION"
sed -i 's/1\.0\.0/1.1.0/' "$site/index.html"
deploy "$@" -e "deploy_src=$site" | tee "$artifacts/third.log"
ansible-playbook verify.yml "$@" -e "artifacts=$artifacts/run" -e expected_version=1.1.0 -e step=third

if deploy "$@" -e "deploy_src=$site" -e "deploy_smoke_text='not on the page'" > "$artifacts/failing.log" 2>&1; then
    echo "a failing smoke check must fail the play"; exit 1
fi
grep -q "Diagnostics: $artifacts/run/diagnostics" "$artifacts/failing.log"
ansible-playbook verify.yml "$@" -e "artifacts=$artifacts/run" -e expected_version=1.1.0 -e step=failing

# A broken build (its page lacks the smoke text): the canary fails its check and gets 1.1.0 back,
# saved from it before the push; the other allocation is never written to.
broken=$(mktemp -d)
cp -r "$site/." "$broken/"
echo "1.2.0" > "$broken/VERSION"
sed -i 's/Hello from IIS under Nomad/Under construction/' "$broken/index.html"
inspect_url=$(python -c 'import sys, yaml; print(yaml.safe_load(open(sys.argv[1]))["sandbox"]["inspect_url"])' "$config")
python -c 'import sys, urllib.request; urllib.request.urlopen(urllib.request.Request(sys.argv[1] + "/requests", method="DELETE"))' \
    "$inspect_url"
if deploy "$@" -e "deploy_src=$broken" -e deploy_batch_size=2 > "$artifacts/broken.log" 2>&1; then
    echo "a build that fails its smoke check must fail the play"; exit 1
fi
grep "Rolled back to the version saved in $artifacts/run/previous" "$artifacts/broken.log"
ansible-playbook verify.yml "$@" -e "artifacts=$artifacts/run" -e expected_version=1.1.0 -e step=rolled_back \
    -e "site_index=$site/index.html"
rm -rf "$site" "$broken"
