"""What implementers and consultants run offline on a mapping: `validate` and `preview`
(`validation`) and the mapping's test cases (`cases`, the `test` command).

Never opens a database, never connects to anything.
"""
