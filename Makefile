# The two entry points of the README. Both create the environments they need (idempotently);
# `scripts/envs.sh` with no arguments makes every environment that has an envs/NAME.txt.
.PHONY: book test envs bench

# The book from book.toml: generated/ notebooks, executed copies (small sizes, cached by content) in
# build/executed/, and the web book in build/site/ (it prints where to open it). MathJax first: the site
# copies it, and the build stamp the browser test checks records whether it was there.
book:
	@scripts/envs.sh
	@scripts/mathjax.sh
	.venv/bin/d2lc build --execute --small --jobs 2

# The test files run on two pytest-xdist workers (D2LC_TEST_JOBS=N for another count, 0 for one process), a
# whole file per worker (--dist loadfile) so each module's fixtures (harness sessions, warm runners) start once;
# the costliest files first (tests/conftest.py, measured in tests/file_costs.json), and the 25 slowest tests listed.
test:
	@scripts/envs.sh
	@scripts/browser.sh
	@jobs=$${D2LC_TEST_JOBS:-2}; \
	  if [ "$$jobs" != 0 ] && .venv/bin/python -c "import xdist" 2>/dev/null; then par="-n $$jobs --dist loadfile --no-loadscope-reorder"; fi; \
	  TF_CPP_MIN_LOG_LEVEL=2 .venv/bin/python -m pytest tests $$par --durations=25; rc=$$?; \
	  if [ $$rc -eq 5 ]; then echo "pytest collected no tests"; rc=0; fi; exit $$rc

envs:
	@scripts/envs.sh

bench:
	@scripts/envs.sh
	.venv/bin/python benchmarks/compile.py
	.venv/bin/python benchmarks/equivalence.py
	.venv/bin/python benchmarks/training.py
