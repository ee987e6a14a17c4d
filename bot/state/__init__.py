"""State DB adapter (SQLAlchemy)."""
