# Tooling entry points; the work is done by the scripts in scripts/.
SHELL := /bin/bash

.PHONY: deps install demo demo-stop test

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
