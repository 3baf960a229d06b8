# The two commands of this repository: `make demo` and `make test`. Both install what they need.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
APT := DEBIAN_FRONTEND=noninteractive apt-get

.PHONY: test demo venv system-packages sandbox-test clean collection-venv collection-test sanity units integration lint ee bench

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

venv: $(BIN)/python
	$(BIN)/python -m pip install -q -e 'sandbox[test]'

# Debian's Chromium drives screenshots (Playwright may not download its own browser here);
# gdb's gcore stands in for procdump.exe.
system-packages:
	@if ! command -v chromium >/dev/null || ! command -v gcore >/dev/null || ! command -v shellcheck >/dev/null; then \
		$(APT) update -qq && $(APT) install -y -qq chromium gdb shellcheck >/dev/null; fi

sandbox-test: venv system-packages
	$(BIN)/python -m pytest sandbox/tests

# The collection's tools: the newest ansible-core (with ansible-test), ansible-lint, ansible-builder,
# pytest. Every older ansible-core line the collection claims (meta/runtime.yml) gets an environment
# of its own, with the sandbox (tests start it with their own Python): the unit tests run on each,
# the integration targets on the oldest and the newest.
CORE_OLDER := 2.16 2.17 2.18
CORE_OLDEST := $(firstword $(CORE_OLDER))
CORE_BINS := $(foreach core,$(CORE_OLDER),$(VENV)-core-$(core)/bin)

collection-venv: $(BIN)/python $(addsuffix /python,$(CORE_BINS))
	$(BIN)/python -m pip install -q -r tests/ci/requirements.txt
	for core in $(CORE_OLDER); do \
		$(VENV)-core-$$core/bin/python -m pip install -q "ansible-core==$$core.*" -r tests/ci/requirements-tests.txt \
			-e sandbox || exit 1; \
	done

$(VENV)-core-%/bin/python:
	$(PYTHON) -m venv $(VENV)-core-$*
	$(VENV)-core-$*/bin/python -m pip install -q --upgrade pip

COLLECTION_ENV = VENV_BIN=$(abspath $(BIN)) CORE_VENV_BINS="$(abspath $(CORE_BINS))" \
	OLDEST_VENV_BIN=$(abspath $(VENV)-core-$(CORE_OLDEST)/bin)

# One collection check at a time (`make sanity`), or all of them; tests/ci/collection.sh has the details.
sanity units integration lint ee: collection-venv venv system-packages
	$(COLLECTION_ENV) bash tests/ci/collection.sh $@

collection-test: collection-venv venv system-packages
	$(COLLECTION_ENV) bash tests/ci/collection.sh sanity units integration lint ee

test: sandbox-test collection-test

# The sandbox's demo cluster and the deploy-and-test playbook with examples/sample-app.
demo: venv collection-venv system-packages
	VENV_BIN=$(abspath $(BIN)) bash examples/demo.sh

# nomad_iis_fs against curl on one sandbox, then on 16 allocations, then what one listing request
# costs (bench/README.md); not part of `make test`. Needs curl. BENCH_ARGS (e.g. `--repeat 5
# --output /tmp/bench.json`) go to bench/bench_nomad_iis_fs.py, BENCH_MANY_ARGS to
# bench/bench_many_allocations.py.
bench: venv collection-venv
	$(BIN)/python bench/bench_nomad_iis_fs.py $(BENCH_ARGS)
	$(BIN)/python bench/bench_many_allocations.py $(BENCH_MANY_ARGS)
	$(BIN)/python bench/bench_request_cost.py

clean:
	rm -rf $(VENV) $(VENV)-core-* .pytest_cache build tests/output .ansible
