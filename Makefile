# autotriage developer commands. `make test` and `make bench` use the broker in KAFKA_BOOTSTRAP_SERVERS, else
# reuse this checkout's running local broker, else start one and stop it again when they end (each case is
# announced; see deploy/kafka-local/with-broker.sh).
PY ?= python3
KAFKA := bash deploy/kafka-local/kafka.sh
WITH_BROKER := bash deploy/kafka-local/with-broker.sh

.PHONY: install demo test test-unit test-kafka test-faults test-scaling lint typecheck kafka-start kafka-stop bench ci

install:
	$(PY) -m pip install -c requirements.lock -e '.[dev]'

demo:
	autotriage demo

lint:
	ruff check .

typecheck:
	mypy

test-unit:
	$(PY) -m pytest tests/unit tests/integration -m "not kafka" -q

test:
	$(WITH_BROKER) $(PY) -m pytest -q

test-faults:
	$(PY) -m pytest -m faults -q -s

test-scaling:
	$(WITH_BROKER) $(PY) -m pytest -m scaling -q -s

kafka-start:
	$(KAFKA) fetch && $(KAFKA) start

kafka-stop:
	$(KAFKA) stop

bench:
	$(WITH_BROKER) $(PY) tools/bench_pipeline.py

ci:
	bash .ci/run
