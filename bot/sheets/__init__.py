"""Workbook adapters: local file and Google Sheets."""
