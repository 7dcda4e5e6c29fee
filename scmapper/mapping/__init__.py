"""The mapping language: YAML with positions (`yamlio`, `document`), the JSON Schema (`schema`),
the trust boundary for the files a mapping names and the shipped starters (`trust`), `extends`
and the cache (`loading`, `cache`), the frozen model (`model`, `source`, `exportspec`), and
evaluation: expressions, the sandbox, filters, bounds (`budget`), static checks and the compiled
rules that turn one record into rows (`rules`).

Never runs SQL, never reads a file outside the mapping's root or the starters.
"""
