"""Host keys: the server's key checked against known_hosts and the pins, before anything is sent."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import paramiko

from scmapper.errors import (
    HostKeyRefused,
    UsageError,
)
from scmapper.export.sftp.settings import SftpSettings, parse_pin

# --- host keys ---------------------------------------------------------------------------


def fingerprint(key: paramiko.PKey) -> str:
    """OpenSSH's fingerprint of a public key: SHA256 of the key blob, unpadded base64."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode("ascii").rstrip("=")


def _load_known_hosts(settings: SftpSettings) -> paramiko.HostKeys:
    known = paramiko.HostKeys()
    path = settings.known_hosts
    if path is not None and path.exists():
        try:
            known.load(str(path))
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"cannot read known_hosts file {path}: {exc}") from exc
    return known


def _known_key_types(settings: SftpSettings) -> set[str]:
    entries = _load_known_hosts(settings).lookup(settings.host_key_name)
    return set(entries.keys()) if entries else set()


def check_host_key(settings: SftpSettings, key: paramiko.PKey) -> str:
    """Accept the server's key or raise HostKeyRefused; returns why it was accepted."""
    presented = fingerprint(key)
    if settings.trust_host_key and parse_pin(settings.trust_host_key) == presented:
        return "matches trust_host_key"
    entries = _load_known_hosts(settings).lookup(settings.host_key_name) or {}
    known = entries.get(key.get_name())
    if known is not None and known.asbytes() == key.asbytes():
        return f"listed in {settings.known_hosts}"
    raise HostKeyRefused(_refusal(settings, key, presented, entries))


def _refusal(settings: SftpSettings, key: paramiko.PKey, presented: str, entries: Any) -> str:
    kind = key.get_name()
    head = f"sftp host {settings.address} presented host key {kind} {presented}"
    if kind in entries:
        why = (
            f", but {settings.known_hosts} has a different {kind} key for "
            f"{settings.host_key_name} ({fingerprint(entries[kind])}). The host key has "
            "CHANGED: the connection may be intercepted, or the server was reinstalled. "
            "Confirm the new fingerprint with the server's administrator; if it is right, "
            f"remove the old entry (ssh-keygen -R '{settings.host_key_name}' -f "
            f"{settings.known_hosts}) and trust the new key"
        )
    elif entries:
        why = f", but {settings.known_hosts} lists only {', '.join(sorted(entries))} keys for {settings.host_key_name}"
    else:
        why = f", which is not trusted ({_trust_sources(settings)})"
    return (
        f"{head}{why}. To trust it, pass --trust-host-key {presented} (or set "
        f"trust_host_key in the sftp settings), or add it to known_hosts, e.g. "
        f"ssh-keyscan -p {settings.port} {settings.host} >> "
        f"{settings.known_hosts or 'known_hosts'} (then check the fingerprint with "
        "ssh-keygen -lf)"
    )


def _trust_sources(settings: SftpSettings) -> str:
    if settings.known_hosts is None:
        kh = "no known_hosts file configured"
    elif not settings.known_hosts.exists():
        kh = f"known_hosts file {settings.known_hosts} does not exist"
    else:
        kh = f"not in {settings.known_hosts}"
    pin = f"pin {settings.trust_host_key} differs" if settings.trust_host_key else "no pin"
    return f"{kh}; {pin}"


def _prefer_known_key_types(transport: paramiko.Transport, known: set[str]) -> None:
    """Ask for the key types known_hosts lists, as OpenSSH does, so a server with several
    host keys shows us the one we can check rather than one we have never seen."""
    if not known:
        return
    options = transport.get_security_options()
    algorithms = list(options.key_types)
    # RSA keys are listed as ssh-rsa but negotiated as rsa-sha2-*.
    first = [a for a in algorithms if ("ssh-rsa" if a.startswith("rsa-sha2-") else a) in known]
    options.key_types = first + [a for a in algorithms if a not in first]


# --- credentials and sessions ------------------------------------------------------------


