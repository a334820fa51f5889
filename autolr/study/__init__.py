"""What persists: a study's storage, its settings, and the coordination of the processes that
run it.

- ``storage``: SQLAlchemy URLs, SQLite set-up (WAL, busy timeout, damaged and read-only files),
  PostgreSQL; ``storage_retry``: the storage wrapper that retries lost connections, and the one
  place that writes several user attributes in one transaction (Optuna's internals, wrapped).
- ``coordination``: the study lock every decision is taken under, heartbeats, the server's
  clock, and recovering the trials of a process that is gone.
- ``config``: validating ``tune``'s arguments, the settings a study keeps, and refusing an
  option that contradicts them; ``files``: where studies and their artefacts live.
- ``outcomes``: failing and queueing again the trials this process stops; ``stopping``: when
  failing trials stop a study.

May import: ``autolr.search``, ``autolr.schedules`` and the base modules. Never the trials'
runtime, the loop, reports or the command line.
"""
