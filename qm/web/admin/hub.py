"""The admin hub: one page linking every admin editor, with a count beside each.

GET /admin    admins only (other roles: 403)
"""

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.response import Template
from sqlmodel import Session, select

from qm.auth import requires_role
from qm.domain import definitions
from qm.domain.queues import list_queues
from qm.domain.training_catalog import is_edited, site_catalog
from qm.models import Role, Team


class AdminHubController(Controller):
    """The admin start page."""

    path = "/admin"
    guards = [requires_role(Role.ADMIN)]  # noqa: RUF012  (Litestar reads a plain list)
    include_in_schema = False

    @get("/", sync_to_thread=True)
    def hub(self, db: NamedDependency[Session]) -> Template:
        """Links to users, scripts, forms, training modules, teams and queues, targets
        and weights, and uploads, each with how many there are."""
        counts = {
            "scripts": len(definitions.script_summaries(db)),
            "forms": len(definitions.form_summaries(db)),
            "modules": len(site_catalog(db).modules),
            "catalog_edited": is_edited(db),
            "queues": len(list_queues(db)),
            "teams": len(db.exec(select(Team.id)).all()),
        }
        return Template(template_name="admin/hub.html", context={"counts": counts})
