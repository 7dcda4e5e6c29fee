"""Deliver exported files to the SFTP location Spend Cloud's import job fetches from.

Vocabulary:

- **settings**: the `sftp:` section of a mapping (`SftpSettings`); secrets are never in it,
  only the *names* of the environment variables that hold them.
- **pin**: an OpenSSH-style host key fingerprint (`SHA256:` + unpadded base64) trusted in
  addition to the entries of the known_hosts file.
- **session**: one authenticated SSH connection with its SFTP channel; all files of one
  attempt travel over one session.
- **attempt**: one session's try at delivering the files still pending. Only connection-level
  failures (refused, timeout, reset, EOF) start another attempt, after a doubling delay.
- **staging**: writing a file under a hidden temporary name (`.Users.csv.<hex>.part`) in the
  remote directory, then checking its size and SHA-256 by reading it back.
- **publishing**: renaming a staged file over its final name. Every file is staged before any
  is published, so the import job never sees a new Users.csv beside a stale Roles.csv for
  longer than two renames take, and never sees a half-written file.

This package is the only code that imports paramiko: `hostkeys`, `connection` (one session and
the errors), `transfer` (stage, verify, publish); `upload` ties them together with
retries; `settings` reads the mapping's section (without paramiko). Never reads a secret the
settings do not name, never writes outside the remote folder.
"""
