"""scmapper: keep Visma | ProActive Spend Cloud in step with HR data.

A YAML mapping says how a person record becomes Spend Cloud person and role
columns; the runtime applies it per account lifecycle event to a SQLite store.
"""

__version__ = "0.1.0"
