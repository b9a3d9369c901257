# miniplane developer targets. `make help` lists them.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: help install venv test check up bench bench-all bench-api bench-agent bench-controller bench-durability bench-mqtt clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

venv: $(BIN)/activate

install: venv ## install miniplane and everything the tests need into .venv
	$(PY) -m pip install --quiet -e '.[test]'
	command -v mosquitto >/dev/null && command -v iptables >/dev/null || \
		{ $(SUDO) apt-get update && $(SUDO) apt-get install -y mosquitto mosquitto-clients iptables; }

test: install ## run the whole test suite (unit, integration, end to end)
	$(PY) -m pytest -q

check: install ## lint (ruff) and type-check (mypy)
	$(BIN)/ruff check miniplane agent tests bench
	$(BIN)/ruff format --check miniplane agent tests bench
	$(BIN)/mypy miniplane agent

up: install ## a local cluster with the seed example applied
	$(BIN)/miniplane up --agents 3 --apply configs/log-collector-daemonset.yaml

bench: install ## the fleet benchmark (simulated nodes, targets T1-T9): one table, about 30 minutes
	$(PY) -m bench.fleet

bench-all: bench bench-api bench-controller bench-agent bench-durability ## every benchmark

bench-api: install ## API throughput: creates/s, gets/s, list of 10,000 pods, watch fan-out
	$(PY) -m bench.api

bench-controller: install ## DaemonSet converge on 1,000 and 10,000 nodes; rolling update over 1,000
	$(PY) -m bench.controller

bench-agent: install ## one agent: idle RSS/CPU with 10 pods, pod start latency p50/p99
	$(PY) -m bench.agent

bench-durability: install ## writes/s with durability on and off, recovery of 100,000 objects
	$(PY) -m bench.durability

bench-mqtt: install ## MQTT: failure detection p50/p99 over 20 kills, heartbeat intake/s, converge MQTT vs HTTP
	$(PY) -m bench.mqtt

clean: ## remove the virtualenv and caches
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
