"""One module per benchmark family; each has a ``run(backend, items, run_dir, ...) -> TaskResult``."""
