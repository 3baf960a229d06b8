#!/usr/bin/env bash
# The collection's checks, as `make test` runs them (each prints how long it took):
#
#   tests/ci/collection.sh stage    copy the collection to build/ansible_collections/nomad_iis/management
#   tests/ci/collection.sh sanity   ansible-test sanity, every test, on the whole repository
#   tests/ci/collection.sh units    ansible-test units, on every ansible-core the collection claims
#   tests/ci/collection.sh integration  ansible-test integration against two sandboxes (run_integration.py),
#                                       on the oldest and the newest ansible-core side by side;
#                                       INTEGRATION_TARGETS="a b" runs only those targets
#   tests/ci/collection.sh lint     ansible-lint, production profile (with ansible.windows and
#                                   community.windows from PyPI's ansible package: windows_collections.py)
#   tests/ci/collection.sh ee       ansible-builder introspect --sanitize, and ansible-builder create of
#                                   examples/ee/execution-environment.yml (build context checked)
#   tests/ci/collection.sh all      all of the above
#
# Runs the tools from $VENV_BIN (default: .venv/bin, the newest ansible-core, filled by `make
# collection-venv`); CORE_VENV_BINS lists the bin directories of the older ansible-core lines, and
# OLDEST_VENV_BIN the oldest's (both from the Makefile; empty: the newest only).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
VENV_BIN=${VENV_BIN:-$REPO/.venv/bin}
CORE_VENV_BINS=${CORE_VENV_BINS:-}
OLDEST_VENV_BIN=${OLDEST_VENV_BIN:-}
PYTHON_VERSION=${PYTHON_VERSION:-3.11}
COLLECTIONS_DIR=${STAGE_DIR:-$REPO/build}
export STAGE_DIR=$COLLECTIONS_DIR
COLLECTION_ROOT=$COLLECTIONS_DIR/ansible_collections/nomad_iis/management
export PATH="$VENV_BIN:$PATH"

stage() {
    # ansible-test wants the collection at .../ansible_collections/<namespace>/<name>/; see
    # stage_collection.py for why that is a fresh copy and not a symlink.
    python "$REPO/tests/ci/stage_collection.py"
}

in_collection() {
    # Without ANSIBLE_TEST_CONTENT_ROOT ansible-test would walk up to the repository's .git and ask
    # git for the file list, in which build/ is ignored: it would test nothing and pass.
    (cd "$COLLECTION_ROOT" && ANSIBLE_TEST_CONTENT_ROOT="$COLLECTION_ROOT" "$@")
}

sanity() {
    stage
    # Each sanity test bootstraps pip into its own venv from a script ansible-test downloads from a
    # host this environment cannot reach; seed its cache with an offline stand-in first.
    python "$REPO/tests/ci/seed_get_pip.py"
    in_collection ansible-test sanity --python "$PYTHON_VERSION" --local --color no
}

core_version() {
    "$1/python" -c 'import ansible.release; print(ansible.release.__version__)'
}

units() {
    stage
    local bin failed=()
    # Every ansible-core the collection claims (meta/runtime.yml), one after the other.
    for bin in "$VENV_BIN" $CORE_VENV_BINS; do
        echo "--> units on ansible-core $(core_version "$bin")"
        PATH="$bin:$PATH" in_collection ansible-test units --python "$PYTHON_VERSION" --local --color no \
            || failed+=("$(core_version "$bin")")
    done
    if [ ${#failed[@]} -gt 0 ]; then
        echo "--> units failed on ansible-core ${failed[*]}"
        return 1
    fi
}

lint() {
    # The role management_api's Windows tasks use ansible.windows and community.windows, which
    # galaxy.yml declares; Galaxy is out of reach, so they come from PyPI's ansible package.
    local windows
    windows=$(python "$REPO/tests/ci/windows_collections.py")
    (cd "$REPO" && ANSIBLE_COLLECTIONS_PATH="$windows" ansible-lint --profile production --nocolor)
}

integration_on() {
    # One ansible-core ($1: its bin directory) in its own staged copy ($2), so that two can run at once.
    # Two sandboxes (plain HTTP; HTTPS with mutual TLS and ACLs) for the run, stopped by PID afterwards.
    local bin=$1
    export STAGE_DIR=$2 PATH="$1:$PATH"
    COLLECTIONS_DIR=$STAGE_DIR
    COLLECTION_ROOT=$COLLECTIONS_DIR/ansible_collections/nomad_iis/management
    stage
    # INTEGRATION_TARGETS is a space-separated list: split on purpose. Every target runs even after
    # one failed (--continue-on-error), so that one CI log shows all problems.
    # shellcheck disable=SC2086
    in_collection "$bin/python" "$REPO/tests/ci/run_integration.py" "$COLLECTION_ROOT" -- \
        ansible-test integration --python "$PYTHON_VERSION" --local --color no --continue-on-error \
        ${INTEGRATION_TARGETS:-}
}

integration() {
    # The newest and the oldest ansible-core side by side (most of a target's time is spent waiting
    # for the sandbox), each writing a log of its own that is printed when both are done.
    local bin version log pids=() logs=() versions=() failed=() index
    for bin in "$VENV_BIN" $OLDEST_VENV_BIN; do
        version=$(core_version "$bin")
        log=$COLLECTIONS_DIR/integration-$version.log
        mkdir -p "$COLLECTIONS_DIR"
        (integration_on "$bin" "$COLLECTIONS_DIR/core-$version") > "$log" 2>&1 &
        pids+=($!) logs+=("$log") versions+=("$version")
    done
    for index in "${!pids[@]}"; do
        wait "${pids[$index]}" || failed+=("${versions[$index]}")
    done
    for index in "${!logs[@]}"; do
        echo "--> integration on ansible-core ${versions[$index]}"
        cat "${logs[$index]}"
    done
    if [ ${#failed[@]} -gt 0 ]; then
        echo "--> integration failed on ansible-core ${failed[*]}"
        return 1
    fi
}

ee() {
    stage
    ansible-builder introspect --sanitize "$COLLECTIONS_DIR"
    # The example execution environment (examples/ee): `ansible-builder create` writes its build
    # context and downloads nothing (building the image needs a container engine); introspect with
    # its requirement files is what the build merges with the collection's.
    # (not local: the EXIT trap runs after the function has returned)
    context=$(mktemp -d)
    trap 'rm -rf "$context"' EXIT
    ansible-builder create --file "$REPO/examples/ee/execution-environment.yml" --context "$context" \
        --output-filename Containerfile
    ansible-builder introspect --sanitize --user-pip "$REPO/examples/ee/requirements.txt" \
        --user-bindep "$REPO/examples/ee/bindep.txt" --write-pip "$context/merged-requirements.txt" \
        --write-bindep "$context/merged-bindep.txt" "$COLLECTIONS_DIR"
    python "$REPO/tests/ci/check_ee_context.py" "$REPO/examples/ee/execution-environment.yml" "$context" \
        "$context/merged-requirements.txt" "$context/merged-bindep.txt"
}

timed() {
    local started=$SECONDS status=0
    echo "==> $1"
    # A separate shell per step: `set -e` is void inside a command that is tested with ||.
    bash "${BASH_SOURCE[0]}" --one "$1" || status=$?
    if [ $status -eq 0 ]; then
        echo "==> $1: passed in $((SECONDS - started)) s"
    else
        echo "==> $1: FAILED (exit $status) after $((SECONDS - started)) s"
    fi
    return $status
}

main() {
    if [ "${1:-}" = --one ]; then
        "${@:2}"
        return
    fi
    local steps=("$@") failed=()
    if [ ${#steps[@]} -eq 0 ] || [ "${steps[0]}" = all ]; then
        steps=(sanity units integration lint ee)
    fi
    for step in "${steps[@]}"; do
        case $step in
            stage | sanity | units | integration | lint | ee) ;;
            *) echo "unknown step: $step (stage, sanity, units, integration, lint, ee, all)" >&2; exit 2 ;;
        esac
    done
    # Every step runs even after one failed, so that one CI log shows all problems.
    for step in "${steps[@]}"; do
        timed "$step" || failed+=("$step")
    done
    if [ ${#failed[@]} -gt 0 ]; then
        echo "==> failed: ${failed[*]}"
        exit 1
    fi
}

main "$@"
