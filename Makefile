# Granary — `make demo` sets everything up and runs a day; `make test` sets up and tests.
SHELL := /bin/bash
UV_VERSION := 0.13.9
UV := python3 -m uv
# Yesterday (UTC): the day a @daily DAG would run on its own when unpaused.
DEMO_DATE ?= $(shell date -u -d yesterday +%F)
DEMO_SCALE ?= 0.01
DEMO_TENANTS ?= qingshan,hexi
PYTEST_ARGS ?=

.PHONY: setup demo test lint stop help

help:
	@echo "make demo   set up, then run both banks' last three days through Airflow and provision Superset"
	@echo "make test   set up, then lint and run the test suite"
	@echo "make stop   stop what demo left running (Airflow, Superset, Spark Connect; Kafka if started)"

.PHONY: uv
uv:
	@$(UV) --version >/dev/null 2>&1 || python3 -m pip install --quiet "uv==$(UV_VERSION)"

# Three locked virtualenvs: core (Spark, dbt, GX, the CLI), Airflow alone, Superset alone.
# Compiled to bytecode at install: machines of this kind set PYTHONDONTWRITEBYTECODE=1, so without
# it every process compiles every module it imports again (the CLI's imports took 3.8 s instead of
# 1.4 s, the worker's preload about 30 s instead of 7). Stamped .compiled: older venvs get it too.
.venv/.compiled: pyproject.toml uv.lock | uv
	$(UV) sync --frozen --compile-bytecode
	touch $@

.venv-airflow/.compiled: envs/airflow/pyproject.toml envs/airflow/uv.lock | uv
	cd envs/airflow && UV_PROJECT_ENVIRONMENT=$(CURDIR)/.venv-airflow $(UV) sync --frozen --compile-bytecode
	touch $@

.venv-superset/.compiled: envs/superset/pyproject.toml envs/superset/uv.lock | uv
	cd envs/superset && UV_PROJECT_ENVIRONMENT=$(CURDIR)/.venv-superset $(UV) sync --frozen --compile-bytecode
	touch $@

# The JVM side, pinned in Maven poms: Spark's extra jars and the Kafka broker, copied from Maven
# Central into .jars/ (outside git). Spark loads them with spark.jars (granary/stack/jars.py).
.jars/%/.fetched: jvm/%/pom.xml
	rm -rf .jars/$*
	mvn -q -B -f jvm/$*/pom.xml dependency:copy-dependencies -DincludeScope=runtime \
	  -DoutputDirectory=$(CURDIR)/.jars/$*
	touch $@

setup: .venv/.compiled .venv-airflow/.compiled .venv-superset/.compiled .jars/spark/.fetched .jars/kafka/.fetched
	@# This checkout's own modules too (only changed files are compiled again; a stale one is ignored).
	.venv/bin/python -m compileall -q granary dags
	./scripts/setup-machine.sh

demo: setup
	.venv/bin/granary demo --date $(DEMO_DATE) --scale $(DEMO_SCALE) --tenants $(DEMO_TENANTS)

lint: setup
	.venv/bin/ruff check granary dags spark_jobs tests benchmarks
	.venv/bin/ruff format --check granary dags spark_jobs tests benchmarks

test: setup lint
	.venv/bin/pytest $(PYTEST_ARGS)

stop:
	-.venv/bin/granary airflow stop
	-.venv/bin/granary superset stop
	-.venv/bin/granary spark stop
	-.venv/bin/granary kafka stop
