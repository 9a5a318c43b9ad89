# Mesh: the two commands a self-hoster needs are `make run` and `make test`.

CARGO ?= cargo
NPM ?= npm
WEB := web

.PHONY: run test web web-deps test-deps test-rust test-bench test-web test-e2e test-infra bench proto release clean

## Build the web client and a release server, then start it on http://localhost:8080.
run: web
	$(CARGO) build --release --bin mesh
	./target/release/mesh serve

## A self-contained release binary (web client embedded) at target/release/mesh.
release: web
	$(CARGO) build --release --bin mesh

## Everything: installs what the tests need, then runs unit, integration and browser tests.
test: test-deps web test-rust test-bench test-web test-e2e test-infra

web-deps:
	cd $(WEB) && $(NPM) ci --no-audit --no-fund

web: web-deps
	cd $(WEB) && $(NPM) run build

# Browser tests drive Debian's Chromium (never a downloaded browser); TURN
# interop tests drive coturn's own test client; the deployment files are
# checked by systemd, Caddy, nginx and docker-compose themselves (installed
# without recommends, which would bring docker and start web servers); the
# agent's NAT test builds routers with iptables; `mesh-bench agent` measures
# scp against a private sshd and magic-wormhole against a local mailbox and
# relay.
TEST_PACKAGES := chromium coturn iptables openssh-server openssh-client magic-wormhole magic-wormhole-transit-relay python3-venv
INFRA_PACKAGES := caddy nginx openssl sqlite3 curl systemd-container docker-compose
test-deps:
	@$(call apt_install,$(TEST_PACKAGES),)
	@$(call apt_install,$(INFRA_PACKAGES),--no-install-recommends)

# $(call apt_install,packages,apt options): installs those not installed yet.
define apt_install
	missing=$$(for package in $(1); do \
		dpkg-query -W -f='$${Status}' $$package 2>/dev/null | grep -q 'ok installed' || echo $$package; done); \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" -ne 0 ]; then echo "make test needs Debian's" $$missing": run 'sudo apt-get install -y $(2)" $$missing"' first" >&2; exit 1; fi; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(2) $$missing >/dev/null; \
	fi
endef

# One build of `mesh` with the workspace's features, shared by every test
# that runs it (the agent's tests would otherwise build it again).
test-rust:
	$(CARGO) build --bin mesh
	MESH_BIN=$(CURDIR)/target/debug/mesh $(CARGO) test --workspace --no-fail-fast

# magic-wormhole's mailbox server is not packaged by Debian: a venv on
# Debian's Python (whose Twisted it shares), with the version pinned.
WORMHOLE_VENV := target/wormhole-venv
$(WORMHOLE_VENV)/bin/python:
	/usr/bin/python3 -m venv --system-site-packages $(WORMHOLE_VENV)
	$(WORMHOLE_VENV)/bin/pip install -q magic-wormhole-mailbox-server==0.8.0

# Every benchmark at its smoke size, so none of them rots.
test-bench: $(WORMHOLE_VENV)/bin/python
	$(CARGO) build --bin mesh --bin mesh-agent --bin mesh-bench
	./target/debug/mesh-bench chat --smoke
	./target/debug/mesh-bench sfu --smoke
	./target/debug/mesh-bench turn --smoke
	./target/debug/mesh-bench switch --smoke
	./target/debug/mesh-bench agent --smoke

## The deployment files, checked with systemd, Caddy, nginx and docker-compose.
test-infra:
	$(CARGO) build --bin mesh
	MESH_BIN=$(CURDIR)/target/debug/mesh infra/check

## Full benchmark runs (release build); results go in bench/README.md.
bench: web $(WORMHOLE_VENV)/bin/python
	$(CARGO) build --release --bin mesh --bin mesh-agent --bin mesh-bench
	./target/release/mesh-bench chat --json target/bench-chat.json
	./target/release/mesh-bench sfu --json target/bench-sfu.json
	./target/release/mesh-bench turn --rounds 3 --json target/bench-turn.json
	./target/release/mesh-bench switch --json target/bench-switch.json
	./target/release/mesh-bench agent --json target/bench-agent.json

test-web: web-deps
	cd $(WEB) && $(NPM) run check

# The browsers and the server share a network namespace that has only
# loopback, so no test traffic can leave the machine.
test-e2e: web
	$(CARGO) build --bin mesh
	@if [ "$$(id -u)" -eq 0 ] && command -v unshare >/dev/null 2>&1; then \
		unshare -n sh -c 'ip link set lo up && cd $(WEB) && $(NPM) run e2e'; \
	else \
		echo "not root: running browser tests outside a private network namespace"; \
		cd $(WEB) && $(NPM) run e2e; \
	fi

## Regenerate web/src/proto/index.ts from the Rust wire types.
proto:
	MESH_UPDATE_PROTO=1 $(CARGO) test -p mesh-proto --test typescript

clean:
	$(CARGO) clean
	rm -rf $(WEB)/dist $(WEB)/node_modules
