"""Reading calls: the filtered, paged call list (`listing`), everything the call page shows
(`detail`), who may see a call (`visibility`) and where a call stands in the pipeline
(`status`).

Visibility is decided here, not in the web layer: an agent-role viewer only ever sees
their own agent's calls, whatever the filters say. A call the viewer may not see is
reported exactly as a call that does not exist (`NotFound`, same message), so that its
existence is not revealed either.
"""
