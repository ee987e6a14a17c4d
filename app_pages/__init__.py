"""Dashboard pages (UI only, run by streamlit_app.py) and their cached loaders, charts and widgets."""
