# The two entry points of the README. Both create the environments they need (idempotently);
# `scripts/envs.sh` with no arguments makes every environment that has an envs/NAME.txt.
.PHONY: book test envs bench

# The book from book.toml: generated/ notebooks, executed copies (small sizes, cached by content) in
# build/executed/, and the web book in build/site/ (it prints where to open it).
book:
	@scripts/envs.sh
	.venv/bin/d2lc build --execute --small --jobs 2

test:
	@scripts/envs.sh
	@scripts/browser.sh
	@TF_CPP_MIN_LOG_LEVEL=2 .venv/bin/python -m pytest tests; rc=$$?; \
	  if [ $$rc -eq 5 ]; then echo "pytest collected no tests"; rc=0; fi; exit $$rc

envs:
	@scripts/envs.sh

bench:
	@scripts/envs.sh
	.venv/bin/python benchmarks/compile.py
	.venv/bin/python benchmarks/equivalence.py
	.venv/bin/python benchmarks/training.py
