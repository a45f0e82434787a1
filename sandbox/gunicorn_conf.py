"""gunicorn settings of the sandbox process (used by `make run` and docker)."""

worker_class = "gthread"
