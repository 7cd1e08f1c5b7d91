# The two entry points of the README. Both create the environments they need (idempotently).
.PHONY: book test envs bench

book:
	@scripts/envs.sh main
	.venv/bin/d2lc compile --target=all sources -o generated

test:
	@scripts/envs.sh main mxnet
	@TF_CPP_MIN_LOG_LEVEL=2 .venv/bin/python -m pytest tests; rc=$$?; \
	  if [ $$rc -eq 5 ]; then echo "pytest collected no tests"; rc=0; fi; exit $$rc

envs:
	@scripts/envs.sh main mxnet

bench:
	@scripts/envs.sh main mxnet
	.venv/bin/python benchmarks/compile.py
