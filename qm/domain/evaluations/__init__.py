"""The review loop: stored evaluation forms, evaluations and their lifecycle, disputes and
calibration sessions.

`forms` stores and assigns form versions; `commands` holds every write of an
evaluation's lifecycle; `queries` the reads (as frozen read models, with the visibility
rule); `calibration` the blind sessions and their agreement figures. Each function takes
the session first and the caller commits.
"""
