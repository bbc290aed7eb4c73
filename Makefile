# Tooling entry points; the work is done by the scripts in scripts/.
SHELL := /bin/bash

.PHONY: deps install demo demo-stop test bench

deps:
	scripts/ensure-deps.sh

install: deps
	scripts/install-extension.sh

demo:
	scripts/demo.sh

demo-stop:
	scripts/pg-cluster.sh stop target/demo-cluster

test: install
	scripts/test.sh

# make bench (default size: 1M users, ~30 min) or make bench SIZE=quick (a smoke run)
bench:
	scripts/bench.sh $(SIZE)
