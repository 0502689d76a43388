# The two commands users need: `make demo` and `make test`. Both set up .venv on their own.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
NBVAL := --nbval --nbval-current-env --nbval-sanitize-with notebooks/sanitize.cfg
# demo, notebooks and test run against the embedded sandbox, whatever the shell has set; lab keeps the
# user's environment (MSP_API_KEY selects the test API, tqdm draws its progress bars).
SANDBOX_ONLY := env -u MSP_API_KEY -u MSP_BASE_URL -u MSP_JOURNAL TQDM_DISABLE=1

.PHONY: demo test lint bench notebooks lab clean

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[notebooks,test]"
	touch $(STAMP)

# Run every notebook headless against the embedded sandbox; executed copies and HTML go to build/.
demo: $(STAMP)
	rm -rf build/notebooks build/html
	$(SANDBOX_ONLY) $(BIN)/jupyter nbconvert --log-level=ERROR --to notebook --execute --output-dir build/notebooks notebooks/*.ipynb
	$(BIN)/jupyter nbconvert --log-level=ERROR --to html --output-dir build/html build/notebooks/*.ipynb
	$(SANDBOX_ONLY) $(BIN)/msp-explore scenarios
	@echo
	@echo "Executed notebooks: build/notebooks/   HTML copies: build/html/"

lab: $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[lab]"
	$(BIN)/jupyter lab notebooks/

lint: $(STAMP)
	$(BIN)/ruff check msp_explore tests benchmarks

# pytest exits 5 when it collects nothing: say so plainly rather than pass or fail silently.
test: $(STAMP) lint
	$(SANDBOX_ONLY) $(BIN)/python -m pytest -q $(NBVAL) tests notebooks; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests"; fi; exit $$rc

# Re-execute the notebooks in place, storing the sandbox's outputs that nbval compares against, and the
# widgets' state, so that a notebook opened before it is run shows its cards and forms as they were.
notebooks: $(STAMP)
	cd notebooks && $(SANDBOX_ONLY) ../$(BIN)/jupyter nbconvert --log-level=ERROR --to notebook --execute --inplace \
		--ExecutePreprocessor.store_widget_state=True *.ipynb

bench: $(STAMP)
	for script in benchmarks/bench_*.py; do $(BIN)/python $$script || exit 1; done

clean:
	rm -rf $(VENV) build
