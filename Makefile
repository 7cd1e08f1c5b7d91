# The two entry points of the README. Both create the environments they need (idempotently);
# `scripts/envs.sh` with no arguments makes every environment that has an envs/NAME.txt.
.PHONY: book test envs bench

book:
	@scripts/envs.sh main
	.venv/bin/d2lc compile --target=all sources -o generated

test:
	@scripts/envs.sh
	@TF_CPP_MIN_LOG_LEVEL=2 .venv/bin/python -m pytest tests; rc=$$?; \
	  if [ $$rc -eq 5 ]; then echo "pytest collected no tests"; rc=0; fi; exit $$rc

envs:
	@scripts/envs.sh

bench:
	@scripts/envs.sh
	.venv/bin/python benchmarks/compile.py
	.venv/bin/python benchmarks/equivalence.py
	.venv/bin/python benchmarks/training.py
