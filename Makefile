# kubeops.runbook — developer and CI entry points. `make help` lists them; CONTRIBUTING.md explains them.
SHELL := /bin/bash
VENV ?= .venv
PY := $(CURDIR)/$(VENV)/bin/python
BIN := $(CURDIR)/$(VENV)/bin
BUILD := $(CURDIR)/.build
DIST := $(CURDIR)/dist
VERSION := $(shell awk '/^version:/ {print $$2}' galaxy.yml)
TARBALL := $(DIST)/kubeops-runbook-$(VERSION).tar.gz
# One id per checkout, so that work trees and CI clones on one machine do not share scratch directories.
WT_ID := $(shell printf %s "$(CURDIR)" | sha1sum | cut -c1-8)
# The repo root is the collection root; .build holds an ansible_collections/ tree that points at it.
export ANSIBLE_COLLECTIONS_PATH := $(BUILD)
export PYTHONPATH := $(BUILD)
# The lab's settings (lab inventory, no host key checking); the root ansible.cfg is the one users pick up.
export ANSIBLE_CONFIG := $(CURDIR)/lab/ansible.cfg
PYTEST_ARGS ?=

.PHONY: help host-deps venv tools promtool link unit lint sanity sanity-matrix dist galaxy ee project-sync docs-lint package \
	integration molecule test lab-up lab-down demo bench changelog clean readme-install release

help:
	@echo "make demo          set up .venv, bring the lab up, run the daily inspection, print the report path"
	@echo "make test          everything CI runs: unit lint sanity sanity-matrix package integration molecule"
	@echo "make lab-up        bring the one-machine lab cluster up (idempotent)"
	@echo "make lab-down      remove the lab (keeps the binary and rootfs caches)"
	@echo "make unit | lint | sanity | sanity-matrix | integration | molecule | bench | changelog"
	@echo "make release RELEASE=x.y.z   galaxy.yml's version, then antsibull-changelog release (CONTRIBUTING.md)"
	@echo "make package       galaxy (build + galaxy-importer) + ee (ansible-builder create) + project-sync + readme-install + docs-lint"

# Debian packages of every bindep.txt profile (the runtime entries and dev, lab, test); rpm-only entries are skipped.
host-deps:
	@pkgs=$$(awk '!/^#/ && NF && (!/platform:/ || /platform:dpkg/) {print $$1}' bindep.txt); \
	missing=$$(for p in $$pkgs; do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then echo "installing Debian packages: $$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; fi

# The development venv: the runtime requirements (ranges) and the pinned development and CI tools.
venv: $(VENV)/.installed
$(VENV)/.installed: requirements.txt test-requirements.txt
	test -x $(VENV)/bin/python || python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q -r requirements.txt -r test-requirements.txt
	touch $@

# galaxy-importer, ansible-builder and antsibull-docs pin what the development venv must not (attrs<24, flake8<7,
# an older docutils): they get their own venv, outside the repo, shared by every checkout with the same pins. Its
# name carries the hash of the pins, so it is made once per set of pins (a fresh clone's file times do not matter).
TOOLS_REQUIREMENTS := tests/packaging-requirements.txt
TOOLS_VENV ?= $(HOME)/.cache/kubeops-tools/venv-$(shell sha1sum $(TOOLS_REQUIREMENTS) | cut -c1-12)
tools: $(TOOLS_VENV)/.installed
$(TOOLS_VENV)/.installed:
	rm -rf $(TOOLS_VENV) && python3 -m venv $(TOOLS_VENV)
	$(TOOLS_VENV)/bin/pip install -q -r $(TOOLS_REQUIREMENTS)
	touch $@

# promtool, Prometheus' own checker, reads the report's node_exporter textfile and the alert rules of docs/report.md
# in the unit tests. It comes from Debian's prometheus package: downloaded (not installed: no server, no service) and
# unpacked into the tools cache, keyed by the package version; seconds on a fresh machine (a Go build of promtool took
# 5-9 min on 2 cores), nothing on later runs.
PROMETHEUS_DEB_VERSION := $(shell apt-cache policy prometheus 2>/dev/null | awk '/Candidate:/ {print $$2}')
PROMTOOL_DIR ?= $(HOME)/.cache/kubeops-tools/promtool-deb-$(subst :,_,$(subst +,_,$(PROMETHEUS_DEB_VERSION)))
export KUBEOPS_PROMTOOL := $(PROMTOOL_DIR)/promtool
promtool: $(KUBEOPS_PROMTOOL)
$(KUBEOPS_PROMTOOL):
	@test -n "$(PROMETHEUS_DEB_VERSION)" -a "$(PROMETHEUS_DEB_VERSION)" != "(none)" || \
	  { echo "promtool: apt knows no prometheus package (run apt-get update)"; exit 1; }
	rm -rf $(PROMTOOL_DIR).tmp && mkdir -p $(PROMTOOL_DIR).tmp
	cd $(PROMTOOL_DIR).tmp && apt-get download -qq -o APT::Sandbox::User=root prometheus=$(PROMETHEUS_DEB_VERSION) && \
	  dpkg-deb -x prometheus_*.deb root && install -m 0755 root/usr/bin/promtool promtool && rm -rf root prometheus_*.deb
	$(PROMTOOL_DIR).tmp/promtool --version | grep -q "version $(firstword $(subst +, ,$(PROMETHEUS_DEB_VERSION)))"
	rm -rf $(PROMTOOL_DIR) && mv $(PROMTOOL_DIR).tmp $(PROMTOOL_DIR)

link:
	@mkdir -p $(BUILD)/ansible_collections/kubeops
	@ln -sfn $(CURDIR) $(BUILD)/ansible_collections/kubeops/runbook

unit: venv link promtool
	$(BIN)/pytest -q -p no:cacheprovider tests/unit bench/tests $(PYTEST_ARGS)

# Exactly what `ansible-lint` run by hand in a checkout does (see .ansible-lint): none of the Makefile's ANSIBLE_*
# settings, no schema download.
lint: venv
	$(BIN)/antsibull-changelog lint
	cd $(CURDIR) && env -u ANSIBLE_COLLECTIONS_PATH -u ANSIBLE_CONFIG -u PYTHONPATH ANSIBLE_LINT_SKIP_SCHEMA_UPDATE=1 \
	  $(BIN)/ansible-lint --profile production

# ansible-test needs a real ansible_collections/<ns>/<name> checkout: copy the git-listed files (lab/, bench/ and
# .ci/ are tooling, not collection content) and run sanity there. The copy lives outside this git work tree:
# inside it, ansible-test would list files with git and find none.
SANITY_DIR ?= /tmp/kubeops-sanity-$(WT_ID)
SANITY_COPY = rm -rf $(1) && mkdir -p $(1)/ansible_collections/kubeops/runbook && \
	git ls-files -co --exclude-standard | grep -Ev '^(lab|bench|\.ci)/' | \
	rsync -a --ignore-missing-args --files-from=- ./ $(1)/ansible_collections/kubeops/runbook/
# ansible-test bootstraps pip in its venvs with a script it downloads; .ci/get_pip_shim.py stands in for it.
GET_PIP_SHIM = v=$$($(1) -c 'import ansible_test._internal.python_requirements as r, inspect, re; \
	print(re.search(r"pip=.([0-9.]+).", inspect.getsource(r)).group(1))'); \
	mkdir -p ~/.ansible/test/cache && cp .ci/get_pip_shim.py ~/.ansible/test/cache/get_pip_$${v//./_}.py

# Every sanity test, on the development venv's ansible-core (the one the integration tests run).
sanity: venv
	@$(call GET_PIP_SHIM,$(PY))
	@$(call SANITY_COPY,$(SANITY_DIR))
	cd $(SANITY_DIR)/ansible_collections/kubeops/runbook && \
	  PATH=$(BIN):$$PATH $(BIN)/ansible-test sanity --color no --python 3.11 --requirements $(SANITY_ARGS)

# The other supported ansible-core versions (version:python). Each gets a venv under SANITY_CACHE, made once
# and reused by later runs and other checkouts; ansible-test keeps its per-test venvs in ~/.ansible/test.
# Only the tests whose verdict depends on the ansible-core version run here (see CONTRIBUTING.md): the
# module/plugin documentation and argument spec checks (validate-modules, ansible-doc, yamllint of the docs) and
# the import and compile tests on that version's Python. pylint (two thirds of the time) runs on the newest
# version only, whose ansible-test brings the newest pylint and rules; `make sanity` runs it on the main version.
SANITY_MATRIX ?= 2.17.14:3.11 2.18.19:3.11 2.20.10:3.12 2.21.5:3.13
SANITY_MATRIX_TESTS ?= validate-modules ansible-doc yamllint import compile
SANITY_MATRIX_PYLINT ?= 2.21.5
PYENV_ROOT ?= $(HOME)/.pyenv
SANITY_OLDEST_TARGET ?= 2.17.14:3.11:3.8
SANITY_CACHE ?= $(HOME)/.cache/kubeops-sanity
SANITY_MATRIX_DIR ?= /tmp/kubeops-sanity-matrix-$(WT_ID)
# Shell: the venv of ansible-core $core on Python $py (made once), in $venv, with ansible-test's pip shim.
SANITY_VENV = interp=$$(ls -d $(PYENV_ROOT)/versions/$$py.*/bin/python$$py 2>/dev/null | sort -V | tail -n 1); \
	  interp=$${interp:-$$(command -v python$$py)}; \
	  test -x "$$interp" || { echo "sanity-matrix: no Python $$py for ansible-core $$core"; exit 1; }; \
	  venv=$(SANITY_CACHE)/ansible-core-$$core-py$$py; \
	  if [ ! -f $$venv/.installed ]; then rm -rf $$venv && $$interp -m venv $$venv && \
	    $$venv/bin/pip install -q "ansible-core==$$core" && touch $$venv/.installed; fi; \
	  $(call GET_PIP_SHIM,$$venv/bin/python)
sanity-matrix:
	@$(call SANITY_COPY,$(SANITY_MATRIX_DIR))
	@set -e; for entry in $(SANITY_MATRIX); do \
	  core=$${entry%%:*}; py=$${entry##*:}; \
	  $(SANITY_VENV); \
	  tests="$(SANITY_MATRIX_TESTS)"; case " $(SANITY_MATRIX_PYLINT) " in *" $$core "*) tests="$$tests pylint";; esac; \
	  echo "== ansible-test sanity, ansible-core $$core, Python $$py: $$tests"; start=$$(date +%s); \
	  (cd $(SANITY_MATRIX_DIR)/ansible_collections/kubeops/runbook && rm -rf tests/output && \
	    env -u ANSIBLE_CONFIG -u ANSIBLE_COLLECTIONS_PATH -u PYTHONPATH PATH=$$venv/bin:$$PATH \
	    $$venv/bin/ansible-test sanity --color no --python $$py --requirements \
	      $$(printf -- '--test %s ' $$tests) $(SANITY_ARGS)); \
	  echo "== ansible-core $$core: passed in $$(( $$(date +%s) - start ))s"; \
	done
	@# The oldest Python the modules support on managed hosts (tests/config.yml): compile and import there too,
	@# with the oldest ansible-core.
	@core=$(word 1,$(subst :, ,$(SANITY_OLDEST_TARGET))); py=$(word 2,$(subst :, ,$(SANITY_OLDEST_TARGET))); \
	  target=$(word 3,$(subst :, ,$(SANITY_OLDEST_TARGET))); $(SANITY_VENV); \
	  targetbin=$$(ls -d $(PYENV_ROOT)/versions/$$target.*/bin 2>/dev/null | sort -V | tail -n 1); \
	  echo "== ansible-test sanity, ansible-core $$core, target Python $$target: compile import"; start=$$(date +%s); \
	  cd $(SANITY_MATRIX_DIR)/ansible_collections/kubeops/runbook && rm -rf tests/output && \
	  env -u ANSIBLE_CONFIG -u ANSIBLE_COLLECTIONS_PATH -u PYTHONPATH PATH=$$venv/bin:$$targetbin:$$PATH \
	    $$venv/bin/ansible-test sanity --color no --python $$target --requirements --test compile --test import && \
	  echo "== target Python $$target: passed in $$(( $$(date +%s) - start ))s"

# The collection as Galaxy gets it.
dist: venv
	rm -rf $(DIST) && mkdir -p $(DIST)
	env -u ANSIBLE_CONFIG $(BIN)/ansible-galaxy collection build --output-path $(DIST) .
	cp $(TARBALL) $(DIST)/kubeops-runbook.tar.gz

# The tarball ships no development tooling, and galaxy-importer (what Galaxy and Automation Hub run on upload, here
# in its local mode: no container engine) imports it without an error or warning. The importer's own ansible-lint
# pass is off: it is a subset of `make lint` (same ansible-lint, production profile, with rules skipped) under a
# 180 s timeout that a busy 2-core machine can hit.
# galaxy-importer requires `repository`, which galaxy.yml leaves out while the project has no public URL: as long
# as it does, the importer gets a build whose only difference is repository: file://<this checkout>.
IMPORTER_DIR := $(DIST)/importer
galaxy: dist tools
	@bad=$$(tar -tzf $(TARBALL) | grep -E '^(tests|lab|bench|molecule|collections|dist|reports|inventories/lab)(/|$$)|(^|/)\.|^(Makefile|ansible\.cfg|test-requirements\.txt|CONTRIBUTING\.md)$$' || true); \
	  if [ -n "$$bad" ]; then echo "the tarball ships development files:"; echo "$$bad"; exit 1; fi
	@echo "$(notdir $(TARBALL)): $$(tar -tzf $(TARBALL) | grep -vc '/$$') files, $$(( $$(stat -c %s $(TARBALL)) / 1024 )) KiB, no development files"
	@rm -rf $(IMPORTER_DIR) && mkdir -p $(IMPORTER_DIR)
	@if grep -q '^repository:' galaxy.yml; then cp $(TARBALL) $(IMPORTER_DIR)/; else \
	  git ls-files -co --exclude-standard | rsync -a --files-from=- ./ $(IMPORTER_DIR)/src/ && \
	  echo "repository: file://$(CURDIR)" >> $(IMPORTER_DIR)/src/galaxy.yml && \
	  (cd $(IMPORTER_DIR)/src && env -u ANSIBLE_CONFIG $(BIN)/ansible-galaxy collection build --output-path $(IMPORTER_DIR) . >/dev/null); fi
	cd $(IMPORTER_DIR) && env -u ANSIBLE_CONFIG -u ANSIBLE_COLLECTIONS_PATH -u PYTHONPATH PATH=$(TOOLS_VENV)/bin:$$PATH \
	  GALAXY_IMPORTER_RUN_ANSIBLE_LINT=false $(TOOLS_VENV)/bin/python -m galaxy_importer.main $(notdir $(TARBALL)) > importer.log 2>&1 || \
	  { cat importer.log; exit 1; }
	@if grep -E '^(ERROR|WARNING):' $(IMPORTER_DIR)/importer.log; then echo "galaxy-importer: see $(IMPORTER_DIR)/importer.log"; exit 1; fi
	@grep -q 'Importer processing completed successfully' $(IMPORTER_DIR)/importer.log
	@echo "galaxy-importer $$($(TOOLS_VENV)/bin/pip show galaxy-importer | awk '/^Version/ {print $$2}'): imported without errors or warnings"

# ansible-builder accepts execution-environment.yml and writes the build context (no container engine needed),
# and the collection's own EE requirements (meta/execution-environment.yml) are what builder's introspection finds.
EE_DIR := $(DIST)/ee
ee: dist tools
	rm -rf $(EE_DIR) && mkdir -p $(EE_DIR)
	env -u ANSIBLE_CONFIG $(TOOLS_VENV)/bin/ansible-builder create -f execution-environment.yml -c $(EE_DIR)/context \
	  --output-filename Containerfile -v 1
	test -s $(EE_DIR)/context/Containerfile -a -s $(EE_DIR)/context/_build/collections/kubeops-runbook.tar.gz
	env -u ANSIBLE_CONFIG -u PYTHONPATH ANSIBLE_COLLECTIONS_PATH=$(EE_DIR)/collections $(BIN)/ansible-galaxy collection install \
	  -p $(EE_DIR)/collections $(TARBALL) >/dev/null
	$(TOOLS_VENV)/bin/python $(EE_DIR)/context/_build/scripts/introspect.py introspect $(EE_DIR)/collections \
	  --write-pip $(EE_DIR)/requirements.txt --write-bindep $(EE_DIR)/bindep.txt >/dev/null
	@# kubectl from the Kubernetes package repository of one minor (no binary fetched from a fixed-architecture URL),
	@# the base image at a fixed tag.
	grep -qF 'baseurl=https://pkgs.k8s.io/core:/stable:/$$KUBECTL_MINOR/rpm/' $(EE_DIR)/context/Containerfile
	grep -q 'dnf install .*kubectl' $(EE_DIR)/context/Containerfile && ! grep -qE 'curl|dl\.k8s\.io|amd64' $(EE_DIR)/context/Containerfile
	grep -qE '^ARG EE_BASE_IMAGE="?[^":]+:[0-9][^":]*"?$$' $(EE_DIR)/context/Containerfile
	grep -q '^kubernetes>=.*# from collection kubeops.runbook' $(EE_DIR)/requirements.txt
	grep -q '^openssh-clients \[platform:rpm\]  # from collection kubeops.runbook' $(EE_DIR)/bindep.txt
	@# The image build runs bindep without a profile: of bindep.txt only the runtime entries remain (here: dpkg's).
	test "$$($(TOOLS_VENV)/bin/bindep -l newline -f $(EE_DIR)/bindep.txt)" = openssh-client
	@echo "ee: execution-environment.yml accepted; the collection adds to the image: $$(grep -vhE '\[.*(dev|lab|test)\]' $(EE_DIR)/requirements.txt $(EE_DIR)/bindep.txt | sed 's/  # from.*//' | paste -sd, -)"

# What AWX's project sync does with a fresh clone of this repository: install the collection from the project
# itself (collections/requirements.yml) into an empty path, then run the playbooks with the root ansible.cfg —
# here: syntax-check every playbook against the example inventory.
PROJECT_DIR ?= /tmp/kubeops-project-$(WT_ID)
project-sync: venv
	@rm -rf $(PROJECT_DIR) && mkdir -p $(PROJECT_DIR)
	@git ls-files -co --exclude-standard | rsync -a --files-from=- ./ $(PROJECT_DIR)/
	cd $(PROJECT_DIR) && env -u ANSIBLE_CONFIG -u PYTHONPATH ANSIBLE_COLLECTIONS_PATH=$(PROJECT_DIR)/.collections \
	  $(BIN)/ansible-galaxy collection install -r collections/requirements.yml -p $(PROJECT_DIR)/.collections
	@# The configuration a user (and AWX) picks up there is the root ansible.cfg, and it keeps host key checking on.
	cd $(PROJECT_DIR) && env -u ANSIBLE_CONFIG $(BIN)/ansible-config dump --only-changed > .config-dump && \
	  grep -q "^CONFIG_FILE() = $(PROJECT_DIR)/ansible.cfg" .config-dump && ! grep -E "^HOST_KEY_CHECKING|StrictHostKeyChecking" .config-dump
	cd $(PROJECT_DIR) && for playbook in playbooks/*.yml; do \
	  env -u ANSIBLE_CONFIG -u PYTHONPATH ANSIBLE_COLLECTIONS_PATH=$(PROJECT_DIR)/.collections \
	    $(BIN)/ansible-playbook --syntax-check -i inventories/example/hosts.yml $$playbook || exit 1; done

# The README's install block as a Galaxy user runs it, in an empty home directory: a venv, ansible-core, the
# collection, its Python requirements. No Galaxy server is reachable from here, so the built tarball stands in for
# `ansible-galaxy collection install kubeops.runbook` (the only line changed). Then the quick start's first steps: the
# example inventory copied out of the installed collection, the daily inspection by its FQCN (syntax check), the
# module docs, and the kubernetes client importable by the venv's Python.
README_DIR ?= /tmp/kubeops-readme-$(WT_ID)
readme-install: dist
	@rm -rf $(README_DIR) && mkdir -p $(README_DIR)/home
	@awk '/^## Install/ {s=1} s && /^```sh/ {b=1; next} b && /^```/ {exit} b' README.md > $(README_DIR)/install.sh
	@grep -qx 'ansible-galaxy collection install kubeops.runbook' $(README_DIR)/install.sh
	@sed -i 's|^ansible-galaxy collection install kubeops.runbook$$|ansible-galaxy collection install $(TARBALL)|' $(README_DIR)/install.sh
	cd $(README_DIR)/home && env -i HOME=$(README_DIR)/home PATH=/usr/local/bin:/usr/bin:/bin \
	  PIP_CACHE_DIR=$(HOME)/.cache/pip PIP_DISABLE_PIP_VERSION_CHECK=1 bash -eu $(README_DIR)/install.sh > ../install.log 2>&1 || \
	  { cat $(README_DIR)/install.log; exit 1; }
	cd $(README_DIR)/home && env -i HOME=$(README_DIR)/home PATH=$(README_DIR)/home/.venvs/kubeops/bin:/usr/bin:/bin bash -euc ' \
	  cp -r ~/.ansible/collections/ansible_collections/kubeops/runbook/inventories/example inventories-cluster && \
	  ansible-playbook --syntax-check -i inventories-cluster/hosts.yml kubeops.runbook.daily_inspection >/dev/null && \
	  ansible-doc kubeops.runbook.notify_mail | grep -q STARTTLS && \
	  python -c "import kubernetes, jmespath" && \
	  test -f ~/.ansible/collections/ansible_collections/kubeops/runbook/docs/report.md'
	@echo "readme-install: the README's install block works as written (with $(notdir $(TARBALL)) for the Galaxy server)"

# antsibull-docs: the module, plugin and role documentation renders (what docs.ansible.com-style sites build from).
docs-lint: tools link
	PATH=$(TOOLS_VENV)/bin:$$PATH $(TOOLS_VENV)/bin/antsibull-docs lint-collection-docs --plugin-docs \
	  $(BUILD)/ansible_collections/kubeops/runbook

package: galaxy ee project-sync readme-install docs-lint

lab-up: venv host-deps
	$(PY) -m lab up

lab-down:
	$(PY) -m lab down

integration: venv link lab-up
	$(BIN)/pytest -p no:cacheprovider --durations=25 tests/integration $(PYTEST_ARGS)

# `lab up` is the recipe's first step, not a prerequisite: in `make test` the lab-up target already ran (make runs
# a target once) before the integration tests, and those leave the lab to be repaired (pods the controller-manager
# marked not Ready while etcd was restored, units failed at systemd's cgroup step). On a running lab it repairs.
# Each run starts with an empty report directory (its history would otherwise carry pod restart baselines from the
# previous `make test` on this checkout). `molecule reset` first: molecule keeps a scenario's state per checkout path
# under ~/.ansible/tmp, and a state left "prepared" by an earlier run skips the incident scenario's prepare (the fault
# injection) on the next one.
molecule: venv link host-deps
	$(PY) -m lab up
	rm -rf reports/molecule
	PATH=$(BIN):$$PATH $(BIN)/molecule reset -s daily_inspection
	PATH=$(BIN):$$PATH $(BIN)/molecule test -s daily_inspection
	PATH=$(BIN):$$PATH $(BIN)/molecule reset -s incident
	PATH=$(BIN):$$PATH $(BIN)/molecule test -s incident
	PATH=$(BIN):$$PATH $(BIN)/molecule reset -s node_maintenance
	PATH=$(BIN):$$PATH $(BIN)/molecule test -s node_maintenance
	PATH=$(BIN):$$PATH $(BIN)/molecule reset -s etcd_maintenance
	PATH=$(BIN):$$PATH $(BIN)/molecule test -s etcd_maintenance

test: unit lint sanity sanity-matrix package integration molecule

demo: venv link lab-up
	$(BIN)/ansible-playbook -i inventories/lab/hosts.yml playbooks/daily_inspection.yml
	@echo "report: $$(ls -t $(CURDIR)/reports/inspection-*.html | head -n 1)"

# Not part of `make test`. BENCH=P3 (or "P1 P5") runs some cases; the bench takes the lab lock itself and brings
# the lab up only for the cases that need it.
bench: venv link
	$(PY) -m bench $(if $(BENCH),--case "$(BENCH)") $(BENCH_ARGS)

changelog: venv
	$(BIN)/antsibull-changelog lint

# A release (CONTRIBUTING.md, "Releasing"): galaxy.yml's version first, then antsibull-changelog release, which reads
# it, moves every fragment into changelogs/changelog.yaml under that version (new modules found by version_added)
# and writes CHANGELOG.rst; the image tag in the EE examples follows. Commit, tag and build after.
release: venv link
	@echo "$(RELEASE)" | grep -qE '^[0-9]+\.[0-9]+\.[0-9]+$$' || { echo "usage: make release RELEASE=x.y.z (galaxy.yml has $(VERSION))"; exit 1; }
	@test "$$(printf '%s\n' $(VERSION) $(RELEASE) | sort -V | tail -n 1)" = "$(RELEASE)" -a "$(RELEASE)" != "$(VERSION)" || \
	  { echo "release $(RELEASE) must be newer than $(VERSION)"; exit 1; }
	@ls changelogs/fragments/*.yml >/dev/null 2>&1 || { echo "no changelog fragments: nothing to release"; exit 1; }
	$(BIN)/antsibull-changelog lint
	sed -i 's/^version: .*/version: $(RELEASE)/' galaxy.yml
	PATH=$(BIN):$$PATH $(BIN)/antsibull-changelog release
	sed -i 's/kubeops-runbook-ee:$(VERSION)/kubeops-runbook-ee:$(RELEASE)/' execution-environment.yml docs/awx.md
	@echo "released $(RELEASE) in the files: review git diff, run make test, commit 'Release $(RELEASE)', tag $(RELEASE), make dist"

clean:
	rm -rf $(BUILD) $(DIST) tests/output
