# faultline: the two commands a user needs are `make demo` and `make test`; each sets up what it needs.
SHELL := /bin/bash
.DEFAULT_GOAL := help
FAULTLINE := node dist/harness/cli/main.js

.PHONY: help setup forge build test test-unit test-e2e demo bench bench-forge bench-etcd-disk bench-interrupts bench-doctor bench-doctor-scale bench-alerts clean-clusters

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

setup: ## make Docker usable here (install, capability workaround, start) and install npm dependencies
	@bash images/scripts/setup-host.sh

forge: setup ## build every tool and image that is missing (cached by version)
	@bash images/scripts/forge.sh

node_modules/.package-lock.json: package-lock.json
	npm ci --no-audit --no-fund

build: node_modules/.package-lock.json ## compile the TypeScript
	@npm run --silent build

test-unit: build ## unit tests (no cluster)
	npm run test:unit

test-e2e: forge build ## end-to-end tests on real kind clusters
	npm run test:e2e

test: forge build ## all tests: unit, then end-to-end on real kind clusters
	npm run test:unit
	npm run test:e2e

demo: forge build ## run the statefulset-env-conflict scenario end to end on a new kind cluster
	$(FAULTLINE) run statefulset-env-conflict --report-dir reports/demo

bench: forge build ## run the scenarios and print stage times, TTD and TTR next to the standard alerts (PARALLEL=2: namespace scenarios two at a time)
	$(FAULTLINE) bench $(if $(PARALLEL),--parallel $(PARALLEL))

bench-etcd-disk: forge build ## measure each etcd slow-disk setting: fsync/commit/API p99, lease losses, restarts
	@bash bench/etcd-disk-levels.sh

bench-interrupts: forge build ## SIGINT/SIGKILL trials at random moments of real runs; prints what each left behind (TRIALS=20)
	@node dist/bench/interrupts.js

bench-doctor: forge build ## doctor on the corpus (test/corpus) on a new cluster: recall, precision, scan time
	@node dist/bench/doctor.js

bench-doctor-scale: forge build ## doctor's scan time and peak memory at 250-2000 pods (kwok nodes; SIZES=...)
	@node dist/bench/doctor-scale.js

bench-alerts: forge build ## when the standard alerts fire on real faults (held up to 20 min each) against faultline's TTD (CASES=..., WITHIN=s)
	@node dist/bench/alerts.js

bench-forge: setup build ## measure the forge (cold and warm), kind create vs faultline cluster up, delete, node memory
	@bash images/scripts/bench-forge.sh

clean-clusters: ## delete every kind cluster faultline created
	@$(FAULTLINE) cluster down --all
