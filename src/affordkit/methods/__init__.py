"""Method pipelines: one module per method, one function per phase."""
