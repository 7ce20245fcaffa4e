"""The web layer: one controller per resource, Jinja templates and static files.

Handlers stay thin: they parse the request, call a `qm.domain` function and render.
"""
