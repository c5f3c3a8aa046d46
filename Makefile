# kubeops.runbook — developer and CI entry points. `make help` lists them.
SHELL := /bin/bash
VENV ?= .venv
PY := $(CURDIR)/$(VENV)/bin/python
BIN := $(CURDIR)/$(VENV)/bin
BUILD := $(CURDIR)/.build
# The repo root is the collection root; .build holds an ansible_collections/ tree that points at it.
export ANSIBLE_COLLECTIONS_PATH := $(BUILD)
export PYTHONPATH := $(BUILD)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
PYTEST_ARGS ?=

.PHONY: help host-deps venv link unit lint sanity integration molecule test lab-up lab-down demo bench changelog clean

help:
	@echo "make demo       set up .venv, bring the lab up, run the daily inspection, print the report path"
	@echo "make test       unit + lint + sanity + integration tests on the lab (CI runs this)"
	@echo "make lab-up     bring the one-machine lab cluster up (idempotent)"
	@echo "make lab-down   remove the lab (keeps the binary and rootfs caches)"
	@echo "make unit | lint | sanity | integration | molecule | bench"

host-deps:
	@pkgs=$$(awk '!/^#/ && NF {print $$1}' bindep.txt); \
	missing=$$(for p in $$pkgs; do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then echo "installing Debian packages: $$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; fi

venv: $(VENV)/.installed
$(VENV)/.installed: requirements.txt
	test -x $(VENV)/bin/python || python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q -r requirements.txt
	touch $@

link:
	@mkdir -p $(BUILD)/ansible_collections/kubeops
	@ln -sfn $(CURDIR) $(BUILD)/ansible_collections/kubeops/runbook

unit: venv link
	$(BIN)/pytest -q -p no:cacheprovider tests/unit bench/tests $(PYTEST_ARGS)

lint: venv link
	cd $(CURDIR) && $(BIN)/ansible-lint --profile production

# ansible-test needs a real ansible_collections/<ns>/<name> checkout: copy what ships (lab/ and bench/ are
# build_ignore'd tooling, not collection content) and run sanity there.
# The copy lives outside this git work tree: inside it, ansible-test would list files with git and find none.
SANITY_DIR ?= /tmp/kubeops-runbook-sanity
sanity: venv
	@rm -rf $(SANITY_DIR) && mkdir -p $(SANITY_DIR)/ansible_collections/kubeops/runbook
	@# ansible-test bootstraps pip in its venvs with a script it downloads; .ci/get_pip_shim.py stands in for it.
	@v=$$($(PY) -c 'import ansible_test._internal.python_requirements as r, inspect, re; print(re.search(r"pip=.([0-9.]+).", inspect.getsource(r)).group(1))'); \
	  mkdir -p ~/.ansible/test/cache && cp .ci/get_pip_shim.py ~/.ansible/test/cache/get_pip_$${v//./_}.py
	@git ls-files -co --exclude-standard | grep -Ev '^(lab|bench|\.ci)/' | \
	  rsync -a --ignore-missing-args --files-from=- ./ $(SANITY_DIR)/ansible_collections/kubeops/runbook/
	cd $(SANITY_DIR)/ansible_collections/kubeops/runbook && \
	  PATH=$(BIN):$$PATH $(BIN)/ansible-test sanity --color no --python 3.11 --requirements $(SANITY_ARGS)

lab-up: venv host-deps
	$(PY) -m lab up

lab-down:
	$(PY) -m lab down

integration: venv link lab-up
	$(BIN)/pytest -p no:cacheprovider tests/integration $(PYTEST_ARGS)

molecule: venv link lab-up
	PATH=$(BIN):$$PATH $(BIN)/molecule test -s daily_inspection

test: unit lint sanity integration molecule

demo: venv link lab-up
	$(BIN)/ansible-playbook -i inventories/lab/hosts.yml playbooks/daily_inspection.yml
	@echo "report: $$(ls -t $(CURDIR)/reports/inspection-*.html | head -n 1)"

# Not part of `make test`. BENCH=P3 (or "P1 P5") runs some cases; the bench takes the lab lock itself and brings
# the lab up only for the cases that need it.
bench: venv link
	$(PY) -m bench $(if $(BENCH),--case "$(BENCH)") $(BENCH_ARGS)

changelog: venv
	$(BIN)/antsibull-changelog lint

clean:
	rm -rf $(BUILD) tests/output
