"""The review queue: sampling rules, the monthly sampling of calls for review, assigning
the picks to reviewers, and reading the queue.

`rules` saves and lists sampling rules (and holds the built-in default rule);
`sampling` picks a month's calls (`sample_period`, schedule-ready and idempotent);
`assignment` shares new picks among reviewers; `states` derives a pick's state from its
evaluation; `commands` starts a review from a pick or skips one; `queries` reads the
queue and each reviewer's workload. Each function takes the session first and the
caller commits.
"""
