# autotriage developer commands. `make test` starts the local Kafka broker unless KAFKA_BOOTSTRAP_SERVERS is set.
PY ?= python3
KAFKA := bash deploy/kafka-local/kafka.sh

.PHONY: install demo test test-unit test-kafka test-faults lint typecheck kafka-start kafka-stop bench ci

install:
	$(PY) -m pip install -e '.[dev]'

demo:
	autotriage demo

lint:
	ruff check .

typecheck:
	mypy

test-unit:
	$(PY) -m pytest tests/unit tests/integration -m "not kafka" -q

test:
	@if [ -z "$$KAFKA_BOOTSTRAP_SERVERS" ]; then $(KAFKA) fetch && $(KAFKA) start; fi
	$(PY) -m pytest -q

test-faults:
	$(PY) -m pytest -m faults -q -s

kafka-start:
	$(KAFKA) fetch && $(KAFKA) start

kafka-stop:
	$(KAFKA) stop

bench:
	$(PY) tools/bench_pipeline.py

ci:
	bash .ci/run
