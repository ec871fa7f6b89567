"""crmflow — customer-relationship analytics over local files with DuckDB.

The package holds every rule and computation; the Streamlit pages only lay out
what it returns. It never imports streamlit (a test enforces this).
"""

__version__ = "0.1.0"
