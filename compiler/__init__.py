"""The d2lc compiler: DSL chapters -> typed IR -> idiomatic notebooks for each framework."""
__version__ = "0.1.0"
