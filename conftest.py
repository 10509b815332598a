"""Test-session set-up shared by tests/ and the doctests in the package."""

import os

# scikit-learn's array API dispatch (and so its check_array_api_input) needs
# scipy's array API mode, which must be switched on before scipy is imported.
os.environ.setdefault("SCIPY_ARRAY_API", "1")
