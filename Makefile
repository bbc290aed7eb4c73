# Tooling entry points; the work is done by the scripts in scripts/.
#   make test            PostgreSQL 15 (Debian 12's own)
#   make test PG=17      PostgreSQL 17, in a Debian 13 root that scripts/pg-root.sh makes
SHELL := /bin/bash
PG ?= 15

ifeq ($(PG),15)
IN :=
SUFFIX :=
else
IN := scripts/pg-root.sh run $(PG)
SUFFIX := -$(PG)
endif

.PHONY: deps install demo demo-stop test bench

deps:
	$(IN) scripts/ensure-deps.sh

install: deps
	$(IN) scripts/install-extension.sh

demo:
	$(IN) scripts/demo.sh

demo-stop:
	$(IN) scripts/pg-cluster.sh stop target/demo-cluster$(SUFFIX)

test: install
	$(IN) scripts/test.sh

# make bench (default size: 1M users, ~30 min) or make bench SIZE=quick (a smoke run)
bench:
	$(IN) scripts/bench.sh $(SIZE)
