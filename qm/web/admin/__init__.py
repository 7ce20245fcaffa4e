"""The admin pages: the hub, and editors for scripts, the training catalog, teams and
queues, and targets and weights (evaluation forms: `qm.web.forms_admin`)."""
