"""The built-in d2lc backends: one folder per framework, registered under the `d2lc.targets` entry points."""
