"""The primitives every layer shares: case-insensitive field access (`fields`), identity folding
for uniqueness (`identity`), "did you mean" (`suggest`), the one check every record's values pass
(`values`), the progress meter (`progress`), report sections and the one report printer
(`reports`), and the diff and thresholds an export and a sync judge by (`diff`).

Never imports anything of scmapper but `errors`; never does I/O beyond the stream it is handed.
"""
