"""The random-program fuzzer: well-typed chapters, compiled for every target, run and compared."""
