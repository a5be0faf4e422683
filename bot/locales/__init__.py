"""Message catalogues, one module per language; ``tests/test_i18n.py`` keeps them in step."""
