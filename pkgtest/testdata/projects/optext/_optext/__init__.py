# As PyYAML 6.0's _yaml: a compatibility package for an optional C
# extension that was not built, importable only with it.
raise ModuleNotFoundError("No module named '_optext'")
