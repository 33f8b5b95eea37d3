# Two commands do everything on a fresh clone (only Python 3.10+ needed): `make book` and `make test`.
# `make check-book` then looks at the built book in headless Chromium (CI runs it after `make book`).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
CACHE  := book/_build/.jupyter_cache

.PHONY: book test check-book export install clean-nbs clean book-cache FORCE

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

# jupyter-cache re-executes a chapter only when its code cells change. A chapter's outputs also depend on the
# package it imports (code exported by the other chapters) and on the shared figure style nbs/matplotlibrc, so
# when either changes, the execution cache and Sphinx's saved doctrees (without which Sphinx would not even
# re-read an unchanged notebook) are dropped and every chapter runs again: a cold build, well under 3 minutes.
book-cache:
	@key=$$($(BIN)/python -c "import glob, hashlib; fs = sorted(glob.glob('deeplearning101/*.py')) + ['nbs/matplotlibrc']; \
	print(hashlib.sha256(b''.join(open(f, 'rb').read() for f in fs)).hexdigest())"); \
	if [ "$$(cat $(CACHE).key 2>/dev/null)" != "$$key" ]; then \
	  if [ -d book/_build/.doctrees ]; then echo "The package or nbs/matplotlibrc changed: every chapter runs again."; fi; \
	  rm -rf $(CACHE) book/_build/.doctrees; fi; \
	mkdir -p book/_build && echo "$$key" > $(CACHE).key

book: export book-cache
	$(BIN)/jupyter-book build . --config book/_config.yml --toc book/_toc.yml --path-output book -W -n --keep-going
	$(BIN)/python book/check_build.py
	@echo "The book is at $(abspath book/_build/html/index.html)"

# Needs a built book (`make book`) and Chromium: Debian's package is installed when missing and we are root.
check-book: $(STAMP)
	@if [ -z "$$CHROMIUM" ] && ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1 \
	    && ! command -v google-chrome >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "Installing Chromium (Debian package) for the browser check..."; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else \
	    echo "make check-book needs Chromium: 'sudo apt-get install chromium' (Debian/Ubuntu), or set CHROMIUM=/path/to/chrome" >&2; \
	    exit 1; \
	  fi; \
	fi
	$(BIN)/python book/check_browser.py

test: export
	$(BIN)/nbdev-test
	$(BIN)/python -m pytest tests

clean-nbs: $(STAMP)
	$(BIN)/nbdev-clean

clean:
	rm -rf book/_build _proc _docs

FORCE:
