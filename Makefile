# sipcore: two commands on a fresh machine -- `make demo` and `make test`.
# Both run the set-up first: Debian packages (tools/system-deps.sh), a shared pjproject
# (build_pjsip.py, cached in ~/.cache/sipcore), and sipcore with its test extra in .venv.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.sipcore-installed
SOURCES := pyproject.toml setup.py build_pjsip.py $(shell find src -name '*.py' -o -name '*.c' -o -name '*.h' 2>/dev/null)
PYTEST_ARGS ?=
# the suite's short form; the long forms (@pytest.mark.long) run in `make test-long`
PYTEST_SELECT ?= -m "not long"

.PHONY: setup test test-long asan mutants demo bench clean distclean

setup: $(STAMP)

$(STAMP): $(SOURCES)
	sh tools/system-deps.sh
	$(PYTHON) build_pjsip.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	$(PY) -c "import sipcore; print('sipcore', sipcore.__version__, 'on pjproject', sipcore.PJSIP_VERSION)"
	touch $@

# the static checks (ruff, mypy --strict: configured in pyproject.toml), the suite, then the
# mutation check (tools/mutants.py: every listed mutant must be killed).  Four mutants at a
# time on two cores: most killed mutants spend their time waiting on a test's timeout (10-20 s
# asleep), so 4 jobs took 332 s where 2 took 437 s, with the same 216 killed.
test: setup
	$(PY) -m ruff check src
	$(PY) -m mypy
	$(PY) -m pytest $(PYTEST_SELECT) $(PYTEST_ARGS)
	$(PY) tools/mutants.py --jobs 4

# the long forms: soaks, floods, fault matrices, the full codec matrix with every peer
test-long: setup
	$(PY) -m pytest -m long $(PYTEST_ARGS)

# the unit, property and robustness tests and the message fuzzer (10,000 examples) under
# AddressSanitizer + UndefinedBehaviorSanitizer, pjproject and the glue both instrumented, in
# .venv-asan (tools/asan.sh says how); not part of `make test`: it takes tens of minutes
asan:
	sh tools/system-deps.sh
	PYTHON=$(PYTHON) sh tools/asan.sh

mutants: setup
	$(PY) tools/mutants.py --jobs 4

demo: setup
	$(PY) -m sipcore demo

bench: setup
	$(PY) benchmarks/message_rate.py
	$(PY) benchmarks/registrations.py
	$(PY) benchmarks/call_rate.py --calls 1000

clean:
	rm -rf build src/*.egg-info src/sipcore/_pjsip*.so src/sipcore/_pjsip.c .pytest_cache

distclean: clean
	rm -rf $(VENV) .venv-asan
