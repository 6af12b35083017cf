# benchlab: the two commands a fresh Debian machine needs are `make bench` and `make test`.
# Both install what they need first (apt packages for the controller, the pinned venv).
SHELL := /bin/bash
VENV := .venv
PHASE ?= smoke
# Extra ansible-playbook arguments, e.g. ARGS='-e duration=60 -i inventory/virtual'
ARGS ?=

.PHONY: setup bench site calibrate test test-virtual lint
setup: $(VENV)/.installed

$(VENV)/.installed: requirements.lock python/pyproject.toml scripts/setup-controller.sh
	scripts/setup-controller.sh
	touch $@

bench: setup
	$(VENV)/bin/ansible-playbook bench.yml -e phase=$(PHASE) $(ARGS)

site: setup
	$(VENV)/bin/ansible-playbook site.yml $(ARGS)

calibrate: setup
	$(VENV)/bin/ansible-playbook calibrate.yml $(ARGS)

lint: setup
	scripts/lint.sh

test: setup
	scripts/test.sh

# The three-node virtual lab scenario (molecule/virtual): create, converge, idempotence,
# testinfra verify + multi-node bench, destroy. `make test` runs it after pytest.
test-virtual: setup
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" molecule test -s virtual
