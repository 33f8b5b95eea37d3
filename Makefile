# Two commands do everything on a fresh clone (only Python 3.10+ needed): `make book` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: book test export install clean-nbs clean FORCE

# The stamp is a copy of the pyproject.toml it was installed from: nbdev-export rewrites that file (same
# content, new mtime), so comparing contents, not times, keeps `make` from reinstalling on every call.
$(STAMP): FORCE
	@cmp -s pyproject.toml $(STAMP) || $(MAKE) --no-print-directory install

install:
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 10), "Python 3.10+ is required, found " + sys.version.split()[0]'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[dev]"
	cp pyproject.toml $(STAMP)

export: $(STAMP)
	$(BIN)/nbdev-export

book: export
	$(BIN)/jupyter-book build . --config book/_config.yml --toc book/_toc.yml --path-output book -W -n --keep-going
	$(BIN)/python book/check_build.py
	@echo "The book is at $(abspath book/_build/html/index.html)"

test: export
	$(BIN)/nbdev-test
	$(BIN)/python -m pytest tests

clean-nbs: $(STAMP)
	$(BIN)/nbdev-clean

clean:
	rm -rf book/_build _proc _docs

FORCE:
