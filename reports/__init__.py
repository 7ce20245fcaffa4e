"""Scorecard data to PDF bytes (ReportLab) and charts. Never touches the database."""
