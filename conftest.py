"""Root conftest: the personas and fixtures every app's tests share live in gonghui/conftest.py."""
