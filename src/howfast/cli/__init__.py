"""The howfast command line: ``app.py`` builds it; one module per command."""
