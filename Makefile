# Make targets: the one way in, for people and for the GitHub workflows alike.
# Each target calls the `pipeline` CLI; `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help
ENV ?= local
PY := .venv/bin/python
PIPELINE := .venv/bin/python -m pipeline
VERSION ?=
ARGS ?=
EXPERIMENT ?=
# BASE_IMAGE=debian:bookworm-slim builds from a public base where registries are reachable
export BASE_IMAGE
# Recipes read these from their environment ("$$ENV"), never as text make pastes into the shell
# line; the guard below checks them on top of that.
export ENV VERSION EXPERIMENT SCRIPT CANARY

# --- input guard: no value given to make ever reaches a shell as code ----------------------
# The variables below are pasted into recipe lines (and workflow_dispatch inputs arrive in
# them), so each is checked here, at parse time, on its raw text ($(value ...): nothing in it
# is expanded) before any recipe or shell runs. A bad one stops make with one line, exit 2.
# Names (ENV, VERSION, EXPERIMENT, SCRIPT, CANARY): letters, digits, '.', '_', '-', not
# starting with '-' or '.'. ARGS carries several CLI words (options too): the same characters
# plus ',', ':', '/', '@', '%', '+' and '=', and spaces between words; never a quote, '$', '`',
# ';', '|', '&', a redirection, a glob or a newline. BASE_IMAGE: an image reference.
_name_chars := a b c d e f g h i j k l m n o p q r s t u v w x y z A B C D E F G H I J K L M N O P Q R S T U V W X Y Z 0 1 2 3 4 5 6 7 8 9 . _ -
_comma := ,
_empty :=
_space := $(_empty) $(_empty)
_args_chars := $(_name_chars) $(_comma) : / @ % + =
_image_chars := $(_name_chars) : / @
# $(call _strip,TEXT,CHARS): TEXT without any of CHARS (a list of single characters).
_strip = $(if $(2),$(call _strip,$(subst $(firstword $(2)),,$(1)),$(wordlist 2,999,$(2))),$(1))
# $(call _guard,NAME,TEXT,CHARS,LEADING,HINT): stop unless TEXT (NAME's raw value) is made of
# CHARS only and has no word matching a LEADING pattern; the sentinel 'a' keeps blanks visible.
_guard = $(if $(or $(subst aa,,a$(call _strip,$(2),$(3))a),$(if $(4),$(filter $(4),$(2)))),$(error error: $(1) holds a character make cannot pass safely; hint: $(5)))
_names := -% .%
$(call _guard,ENV,$(value ENV),$(_name_chars),$(_names),ENV is a folder of environments/$(_comma) e.g. ENV=local)
$(call _guard,VERSION,$(value VERSION),$(_name_chars),$(_names),VERSION is an image tag of letters$(_comma) digits$(_comma) '.'$(_comma) '_' and '-'$(_comma) e.g. what make release-version prints)
$(call _guard,EXPERIMENT,$(value EXPERIMENT),$(_name_chars),$(_names),EXPERIMENT is an experiment name; make chaos-list shows them)
$(call _guard,SCRIPT,$(value SCRIPT),$(_name_chars),$(_names),SCRIPT is a k6 script of perf/ without .js$(_comma) e.g. SCRIPT=load)
$(call _guard,CANARY,$(value CANARY),$(_name_chars),$(_names),CANARY is a percentage$(_comma) e.g. CANARY=10)
$(call _guard,ARGS,$(subst $(_space),,$(value ARGS)),$(_args_chars),,ARGS holds CLI words of letters$(_comma) digits and . _ - $(_comma) : / @ % + =$(_comma) separated by spaces)
$(call _guard,BASE_IMAGE,$(value BASE_IMAGE),$(_image_chars),$(_names),BASE_IMAGE is an image reference$(_comma) e.g. debian:bookworm-slim)

.PHONY: help setup up down build deploy status logs weights versions demo lint scan-history test test-unit test-integration test-e2e bench-deploy bench-canary bench-judge bench-perf bench-cli bench-status clean perf

help: ## List the targets
	@awk 'BEGIN{FS=":.*## "} /^[a-z][a-z0-9-]*:.*## /{printf "  make %-14s %s\n", $$1, $$2}' $(MAKEFILE_LIST)
	@echo "  ENV=$$ENV by default; e.g. make deploy ENV=local VERSION=<tag>"

.venv/.ready: scripts/bootstrap requirements/*.lock
	@scripts/bootstrap
	@touch $@

setup: .venv/.ready ## Install everything: venvs, Docker engine, swarm, registry, base image
	@$(PIPELINE) setup "$$ENV" $(ARGS)

up: .venv/.ready ## Bring ENV up (engine, registry, images, db, cache, edge)
	@$(PIPELINE) up "$$ENV" $(ARGS)

down: .venv/.ready ## Remove ENV's services and edge (data kept; ARGS=--volumes to delete it)
	@$(PIPELINE) down "$$ENV" $(ARGS)

build: .venv/.ready ## Build the app image of this commit and push it to the registry
	@$(PIPELINE) build --env "$$ENV" $(ARGS)

deploy: .venv/.ready ## Deploy VERSION (default: this commit, built first) to ENV
	@v="$$VERSION"; if [ -z "$$v" ]; then v=$$($(PIPELINE) build --env "$$ENV") || exit $$?; fi; \
	$(PIPELINE) deploy "$$ENV" --version "$$v" $(ARGS)

status: .venv/.ready ## What runs in ENV: version, replicas, health per track, weights
	@$(PIPELINE) status "$$ENV" $(ARGS)

logs: .venv/.ready ## Logs of ENV (ARGS="--service edge --follow")
	@$(PIPELINE) logs "$$ENV" $(ARGS)

weights: .venv/.ready ## Set the canary weight: make weights CANARY=10
	@$(PIPELINE) weights "$$ENV" --canary "$$CANARY" $(ARGS)

versions: .venv/.ready ## Releases in the registry
	@$(PIPELINE) versions "$$ENV" $(ARGS)

demo: .venv/.ready ## From nothing: up, build and deploy this commit, smoke-test, show status
	@$(PIPELINE) up "$$ENV"
	@v=$$($(PIPELINE) build --env "$$ENV") && $(PIPELINE) deploy "$$ENV" --version "$$v"
	@$(PIPELINE) status "$$ENV"
	@echo "The app is served at http://127.0.0.1:$$($(PY) -c 'import sys; from pipeline.project import Project; from pipeline.environment import load_environment as l; print(l(Project.discover().root, sys.argv[1]).edge.port)' "$$ENV")/"

lint: .venv/.ready ## ruff (lint and format), mypy, the import contracts, the workflow lint, the secret scan (.secrets.baseline), ansible-lint --profile production, promtool check rules
	$(PY) -m ruff check pipeline tests app chaos
	$(PY) -m ruff format --check pipeline tests app chaos
	$(PY) -m mypy
	.venv/bin/lint-imports
	cd app && ../.venv-app/bin/python -m mypy --config-file mypy.ini
	$(PY) -m ruff check environments && $(PY) -m ruff format --check environments
	$(PIPELINE) gha lint
	$(PY) -m mypy --strict environments/aws-vm/infra.py && $(PY) -m mypy --strict environments/aws-swarm/infra.py
	$(PIPELINE) secrets scan
	cd playbooks && PATH="$(CURDIR)/.venv/bin:$$PATH" ../$(PY) -m ansiblelint --profile production .
	scripts/promtool check rules observability/prometheus/rules/*.yml

scan-history: .venv/.ready ## Secret scan of every blob in HEAD's history against .secrets.baseline and the audited .secrets.history (CI runs it once; needs a full clone)
	@$(PIPELINE) secrets scan --history

test-unit: .venv/.ready ## Unit tests: no daemon, seconds (the Prometheus rules' too, with promtool)
	$(PY) -m pytest tests/unit -q
	.venv-app/bin/python -m pytest tests/app -q -p no:cacheprovider
	scripts/promtool test rules observability/prometheus/tests/*.yml

test-integration: .venv/.ready ## Integration tests, no Docker engine: the perf gate with the real k6, the ecs target against moto
	$(PY) -m pytest tests/integration -q -m integration

test-e2e: .venv/.ready ## End-to-end tests on the real engine (environment `ci`; the vm target: make test-e2e-vm)
	$(PY) -m pytest tests/e2e -q -m e2e --durations=15 --ignore=tests/e2e/test_vm_target.py --ignore=tests/e2e/test_swarm_target.py

test: lint test-unit test-integration test-e2e ## Everything CI runs

bench-canary: .venv/.ready ## Canary benchmark: good, 30 % errors, +200 ms, dies at start, and Swarm's own rollback
	$(PY) -m pipeline.bench.canary "$$ENV" $(ARGS)

bench-perf: .venv/.ready ## Throughput and p95 through the edge at several rates; the edge's overhead vs one task
	$(PY) -m pipeline.bench.perf "$$ENV" $(ARGS)

bench-judge: .venv/.ready ## The canary judge: false rollbacks (identical releases, quiet and loaded), bad releases caught, overhead
	$(PY) -m pipeline.bench.judge "$$ENV" $(ARGS)

bench-deploy: .venv/.ready ## Failed requests during a deploy under k6 constant load
	$(PY) -m pipeline.bench.deploy "$$ENV" $(ARGS)

bench-status: .venv/.ready ## pipeline status ENV: reads through the engine's API and the edge's volumes vs the CLI and docker exec (side by side)
	$(PY) -m pipeline.bench.status "$$ENV" $(ARGS)

bench-cli: .venv/.ready ## CLI start-up: median/p90/min of --help, env validate ENV, version (ARGS="--against main": side by side)
	$(PY) -m pipeline.bench.cli "$$ENV" $(ARGS)

perf: .venv/.ready ## Perf gate: k6 SCRIPT (smoke|load|stress|compare) against ENV's edge, thresholds from env.yaml
	@$(PIPELINE) gate perf "$$ENV" --script "$${SCRIPT:-load}" $(ARGS)

clean: ## Remove the venvs and build caches (not the Docker state)
	rm -rf .venv .venv-app .pipeline/build

# --- GitHub Actions, the ecs target on AWS, Pulumi ----------------------------------------
.PHONY: lint-workflows ci-verdict automerge validate release-version provision rollback

lint-workflows: .venv/.ready ## .github/ offline: schemas, zizmor, pinned actions, permissions, called make targets
	@$(PIPELINE) gha lint $(ARGS)

ci-verdict: ## (CI) the one required check: fails unless every job in NEEDS succeeded
	@python3 -m pipeline.gha.verdict

automerge: ## (CI) auto-merge a dependabot patch update once required checks pass (PR_URL, UPDATE_TYPE)
	@python3 -m pipeline.gha.automerge

validate: .venv/.ready ## Check ENV's env.yaml; touch nothing (exit 3: unknown environment)
	@$(PIPELINE) env validate "$$ENV"

release-version: .venv/.ready ## Build and push this commit for ENV (or take VERSION); prints version=<tag>
	@v="$$VERSION"; if [ -z "$$v" ]; then v=$$($(PIPELINE) build --env "$$ENV") || exit $$?; fi; echo "version=$$v"

provision: .venv/.ready ## Pulumi up of environments/ENV/Pulumi.yaml (ARGS="--preview" or "--dry-run")
	@$(PIPELINE) provision "$$ENV" $(ARGS)

rollback: .venv/.ready ## Back to ENV's previous release in one step
	@$(PIPELINE) rollback "$$ENV" $(ARGS)

# --- feature flags (issue 6) ---------------------------------------------------------
.PHONY: flags bench-flags

flags: .venv/.ready ## Feature flags: make flags ENV=local ARGS="set notes-excerpt on" (default: list)
	@$(PIPELINE) flags $(or $(firstword $(ARGS)),list) "$$ENV" $(wordlist 2,99,$(ARGS))

bench-flags: .venv/.ready ## Flag propagation to every task under k6 load (20 toggles) and evaluation cost
	$(PY) -m pipeline.bench.flags "$$ENV" $(ARGS)

.PHONY: bench-alert
bench-alert: .venv/.ready ## Alert latency: a canary failing 30 % under k6 load to the alert at the webhook (ENV=ci: 5 s scrape)
	@env="$$ENV"; [ "$(origin ENV)" = file ] && env=ci; $(PY) -m pipeline.bench.alert "$$env" $(ARGS)

# --- chaos: Chaos Toolkit experiments (chaos/experiments) under k6 load, with a resilience score ---
.PHONY: chaos chaos-list test-e2e-chaos

chaos: .venv/.ready ## Chaos experiments on ENV under k6 load (EXPERIMENT=name; default: all), with a resilience score
	@$(PIPELINE) chaos run "$$ENV" $${EXPERIMENT:+"$$EXPERIMENT"} $(ARGS)

chaos-list: .venv/.ready ## The chaos experiments, validated
	@$(PIPELINE) chaos list $(ARGS)

test-e2e-chaos: .venv/.ready ## Only the chaos end-to-end tests (environment `ci`)
	$(PY) -m pytest tests/e2e -q -m e2e -k chaos --ignore=tests/e2e/test_vm_target.py --ignore=tests/e2e/test_swarm_target.py

# --- the vm target (playbooks/, pipeline/targets/vm.py) --------------------------------
.PHONY: test-e2e-vm vm-ssh
test-e2e-vm: .venv/.ready ## End-to-end tests of the vm target on vm-local (~11 min; not in make test: CI time)
	$(PY) -m pytest tests/e2e/test_vm_target.py -q -m e2e

# --- the swarm target (playbooks/swarm.yml, pipeline/targets/swarm*.py) ----------------------
.PHONY: test-e2e-swarm
test-e2e-swarm: .venv/.ready ## End-to-end tests of the swarm target on swarm-local (three node containers; not in make test: CI time)
	$(PY) -m pytest tests/e2e/test_swarm_target.py -q -m e2e

vm-ssh: ## Log in to ENV's VM with the environment's key (vm-local: make vm-ssh ENV=vm-local)
	@p=$$($(PY) -c 'import sys; from pipeline.project import Project; from pipeline.environment import load_environment as l; print(l(Project.discover().root, sys.argv[1]).vm.ssh.port)' "$$ENV"); \
	ssh -i ".pipeline/vm/$$ENV/id_ed25519" -p "$$p" -o "UserKnownHostsFile=.pipeline/vm/$$ENV/known_hosts" admin@127.0.0.1
