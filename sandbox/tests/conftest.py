"""The sandbox tests' shared fixtures (defined in sandbox/tests/helpers.py)."""

from sandbox.tests.helpers import api, callback, images, new_card  # noqa: F401
