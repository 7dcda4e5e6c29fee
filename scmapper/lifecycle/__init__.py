"""The account lifecycle: agent events parsed (`events`), the five actions applied to the store
(`actions`), one event or a batch from the command line (`runner`), and a full source snapshot
turned into those actions (`sync`).

Never parses YAML (it gets compiled rules), never writes CSV.
"""
