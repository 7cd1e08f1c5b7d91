"""Tools for backend authors and testers: conformance, the backend scaffold, the random-program fuzzer."""
