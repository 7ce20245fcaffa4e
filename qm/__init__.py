"""The QM application: settings, database, domain services, web app, jobs and the `qm` command."""

__version__ = "0.1.0"
