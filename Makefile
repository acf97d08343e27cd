# Two commands do all set-up on a fresh machine with Python 3.11+: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
SEED ?= 2020

.PHONY: demo test lint typecheck serve lock clean bench bench-govern bench-gateway bench-tracing bench-screen bench-opendata i18n compile-catalogs assets

PERSONS ?= 100000
ROWS ?= 1000000

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml constraints.txt package-lock.json
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[test]'
	$(MAKE) --no-print-directory compile-catalogs
	$(MAKE) --no-print-directory assets
	touch $(STAMP)

# Browser code the app serves itself (no CDN at run time): the npm packages pinned in package-lock.json,
# copied with their licences into the package's static folder. Without npm the gate page still takes
# photos and scanner text; its camera scanner needs jsQR.
VENDOR := src/zhongtai/web/static/vendor
assets:
	@if command -v npm >/dev/null 2>&1; then \
	  npm ci --no-audit --no-fund --ignore-scripts --loglevel=error && \
	  mkdir -p $(VENDOR) && cp node_modules/jsqr/dist/jsQR.js $(VENDOR)/jsQR.js && \
	  cp node_modules/jsqr/LICENSE $(VENDOR)/jsQR.LICENSE && \
	  cp node_modules/echarts/dist/echarts.min.js $(VENDOR)/echarts.min.js && \
	  cp node_modules/echarts/LICENSE $(VENDOR)/echarts.LICENSE && \
	  cp node_modules/echarts/NOTICE $(VENDOR)/echarts.NOTICE; \
	else echo "npm not found: the gate page's camera scanner and the charts are off (photos, scanner text and plain trend lines still work)"; fi

LOCALE := src/zhongtai/locale

# Compile the translation catalogs (.po -> .mo); a catalog edited later is compiled in memory at start.
compile-catalogs:
	$(BIN)/pybabel compile --statistics -d $(LOCALE) -D messages
	$(BIN)/pybabel compile --statistics -d $(LOCALE) -D errors -l zh

# Extract every _() / N_() of the code and templates and merge it into both catalogs; then translate the
# new entries (empty msgstr) in both languages and run `make compile-catalogs`.
# Two domains: messages (interface labels by symbolic key, translated into zh and en) and errors (error
# messages, English templates made with M_(), translated into zh).
EXTRACT := $(BIN)/pybabel -q extract -F babel.cfg --no-default-keywords --no-location --sort-output --no-wrap \
	--project zhongtai --copyright-holder "Zhongtai contributors"
UPDATE := $(BIN)/pybabel -q update -d $(LOCALE) --no-fuzzy-matching --no-wrap --ignore-obsolete

i18n: $(STAMP)
	$(EXTRACT) -k _ -k N_ -k gettext -k ngettext:1,2 -o $(LOCALE)/messages.pot .
	$(EXTRACT) -k M_ -o $(LOCALE)/errors.pot .
	$(UPDATE) -i $(LOCALE)/messages.pot -D messages
	$(UPDATE) -i $(LOCALE)/errors.pot -D errors -l zh
	$(MAKE) --no-print-directory compile-catalogs

demo: $(STAMP)
	$(BIN)/zhongtai demo --seed $(SEED) --persons $(PERSONS) --host $(HOST) --port $(PORT)

serve: $(STAMP)
	$(BIN)/zhongtai db upgrade
	$(BIN)/zhongtai serve --host $(HOST) --port $(PORT)

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

test: $(STAMP) lint typecheck
	$(BIN)/python -m pytest -n 2 --dist loadfile

bench: $(STAMP)
	$(BIN)/python bench/ingest.py --rows $(ROWS) --backend $(if $(ZHONGTAI_TEST_DATABASE_URL),both,sqlite) \
		$(if $(ZHONGTAI_TEST_DATABASE_URL),--pg-url $(ZHONGTAI_TEST_DATABASE_URL),)

LOOKUP_ROWS ?= 10000000

bench-govern: $(STAMP)
	$(BIN)/python bench/govern.py --rows $(ROWS) --lookup-rows $(LOOKUP_ROWS) \
		--backend $(if $(ZHONGTAI_TEST_DATABASE_URL),both,sqlite) \
		$(if $(ZHONGTAI_TEST_DATABASE_URL),--pg-url $(ZHONGTAI_TEST_DATABASE_URL),)

bench-gateway: $(STAMP)
	$(BIN)/python bench/gateway.py --persons $(PERSONS) --connections 32 \
		--backend $(if $(ZHONGTAI_TEST_DATABASE_URL),both,sqlite) \
		$(if $(ZHONGTAI_TEST_DATABASE_URL),--pg-url $(ZHONGTAI_TEST_DATABASE_URL),)

DAYS ?= 30

# Contact tracing and a risk-area declaration (SQLite; then PostgreSQL when ZHONGTAI_TEST_DATABASE_URL is set,
# which the run empties).
bench-tracing: $(STAMP)
	$(BIN)/python bench/tracing.py --persons $(PERSONS) --days $(DAYS)
	$(if $(ZHONGTAI_TEST_DATABASE_URL),$(BIN)/python bench/tracing.py --persons $(PERSONS) --days $(DAYS) \
		--database-url $(ZHONGTAI_TEST_DATABASE_URL),)

# The open-data portal on a dataset of ROWS rows (SQLite; then PostgreSQL when ZHONGTAI_TEST_DATABASE_URL is set).
bench-opendata: $(STAMP)
	$(BIN)/python bench/opendata.py --rows $(ROWS)
	$(if $(ZHONGTAI_TEST_DATABASE_URL),$(BIN)/python bench/opendata.py --rows $(ROWS) \
		--database-url $(ZHONGTAI_TEST_DATABASE_URL),)

# The big screen's refresh on a city with a day of events, and 1 vs 100 screens (SQLite; then PostgreSQL
# when ZHONGTAI_TEST_DATABASE_URL is set, which the run empties).
bench-screen: $(STAMP)
	$(BIN)/python bench/screen.py --persons $(PERSONS)
	$(if $(ZHONGTAI_TEST_DATABASE_URL),$(BIN)/python bench/screen.py --persons $(PERSONS) \
		--database-url $(ZHONGTAI_TEST_DATABASE_URL),)

lock: $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade -e '.[test]'
	(echo "# Pinned versions for every install (pip install -c constraints.txt ...). Regenerate with: make lock"; \
	 $(BIN)/python -m pip freeze --exclude-editable | grep -v '^zhongtai') > constraints.txt

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
