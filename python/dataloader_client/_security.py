# Copyright 2026 The dataloader Authors.
"""Transport security as the C++ client does it (client/channel_security.h): plaintext to a
loopback target unless TLS is asked for, TLS to any other unless allow_insecure; a bearer
token on every call. Used to validate options for both backends and by the pure-Python
backend to build its channels."""

import dataclasses
import ipaddress

from ._errors import DataLoaderError, StatusCode


@dataclasses.dataclass(frozen=True)
class Security:
    tls: bool = False
    tls_ca_file: str = None
    tls_cert_file: str = None
    tls_key_file: str = None
    tls_server_name: str = None
    auth_token: str = None
    auth_token_file: str = None
    allow_insecure: bool = False

    def as_dict(self):
        return dataclasses.asdict(self)


def _loopback_host(host):
    if host.lower() == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


def _host_of(address):
    if address.startswith("["):
        close = address.find("]")
        return address[1:] if close < 0 else address[1:close]
    if address.count(":") != 1:
        return address  # No port, or a bare IPv6 address.
    return address.rsplit(":", 1)[0]


def is_loopback_target(target):
    """Whether a gRPC target stays on this machine (localhost, 127.0.0.0/8, ::1, unix:)."""
    if target.startswith(("unix:", "unix-abstract:")):
        return True
    for scheme in ("ipv4:", "ipv6:"):
        if target.startswith(scheme):
            rest = target[len(scheme):]
            return bool(rest) and all(
                _loopback_host(_host_of(a[2:] if a.startswith("//") else a))
                for a in rest.split(","))
    if target.startswith("dns:"):
        target = target[4:]
        if target.startswith("//"):
            slash = target.find("/", 2)
            if slash < 0:
                return False
            target = target[slash + 1:]
    return _loopback_host(_host_of(target))


def uses_tls(security, target):
    return bool(security.tls or security.tls_ca_file or security.tls_cert_file
                or security.tls_key_file or security.tls_server_name
                or (not security.allow_insecure and not is_loopback_target(target)))


def _read(what, path):
    try:
        with open(path, "rb") as file:
            return file.read()
    except OSError as error:
        raise DataLoaderError(StatusCode.FAILED_PRECONDITION,
                              f"cannot read {what} '{path}': {error.strerror}") from None


def _read_pem(what, path, marker):
    pem = _read(what, path)
    if b"-----BEGIN " not in pem or marker.encode() not in pem:
        raise DataLoaderError(StatusCode.FAILED_PRECONDITION,
                              f"{what} '{path}' is not a PEM file with a {marker} "
                              f"(-----BEGIN ... {marker}-----)")
    return pem


def token_of(security):
    """The bearer token (str), or None."""
    if security.auth_token and security.auth_token_file:
        raise DataLoaderError(StatusCode.INVALID_ARGUMENT,
                              "give auth_token or auth_token_file, not both")
    token, source = security.auth_token, "auth_token"
    if security.auth_token_file:
        token = _read("auth_token_file", security.auth_token_file).strip().decode(
            "ascii", errors="replace")
        source = f"auth_token_file '{security.auth_token_file}'"
        if not token:
            raise DataLoaderError(StatusCode.FAILED_PRECONDITION,
                                  f"{source} is empty: it must hold the bearer token")
    if not token:
        return None
    for i, c in enumerate(token):
        if not 0x20 < ord(c) < 0x7F:
            raise DataLoaderError(StatusCode.INVALID_ARGUMENT,
                                  f"{source}: the token may hold only visible ASCII, found "
                                  f"{c!r} at offset {i}")
    return token


def load(security, target):
    """(tls, token, ca, cert, key) for a channel to `target`; raises DataLoaderError
    (INVALID_ARGUMENT, FAILED_PRECONDITION) naming what is wrong."""
    if bool(security.tls_cert_file) != bool(security.tls_key_file):
        raise DataLoaderError(
            StatusCode.INVALID_ARGUMENT,
            ("tls_cert_file is set but tls_key_file is not" if security.tls_cert_file else
             "tls_key_file is set but tls_cert_file is not") + ": a client certificate needs "
            "both")
    tls = uses_tls(security, target)
    token = token_of(security)
    ca = cert = key = None
    if tls:
        if security.tls_ca_file:
            ca = _read_pem("tls_ca_file", security.tls_ca_file, "CERTIFICATE")
        if security.tls_cert_file:
            cert = _read_pem("tls_cert_file", security.tls_cert_file, "CERTIFICATE")
            key = _read_pem("tls_key_file", security.tls_key_file, "PRIVATE KEY")
    return tls, token, ca, cert, key
