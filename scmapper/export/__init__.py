"""What leaves for Spend Cloud: an export staged, judged (preflight and thresholds, `checks`),
recorded and published (`pipeline`, `staging`), in the CSV forms of `csvformat`; then delivered
(`delivery`) over SFTP (`sftp`, `sftp_settings`, the only users of paramiko).

Never evaluates a person's mapping (the store holds the rows), never runs SQL itself.
"""
