"""The Temporal connection: Autopilot's ``temporal.*`` keys over Temporal's own client profile.

Temporal's tooling reads ``TEMPORAL_ADDRESS``, ``TEMPORAL_NAMESPACE``, ``TEMPORAL_API_KEY``,
``TEMPORAL_TLS*``, ``TEMPORAL_PROFILE`` and ``TEMPORAL_CONFIG_FILE`` (``temporalio.envconfig``).
Autopilot starts from that profile; a ``temporal.*`` key set in ``autopilot.yaml`` or by an
``AUTOPILOT__TEMPORAL__*`` variable wins over it. The API key only ever comes from the
environment (``temporal.api_key_env``, default ``TEMPORAL_API_KEY``).

Certificates and keys are checked before connecting, so a wrong file is one line naming the key
and the reason, never a TLS stack trace from the connection.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.envconfig import ClientConfigProfile
from temporalio.service import TLSConfig

from config.settings import (
    AutopilotConfig,
    ConfigError,
    TemporalSettings,
    resolved_namespace,
    temporal_profile,
)

_TLS_KEYS = ("server_ca_cert", "client_cert", "client_key", "server_name")


class TemporalConnectError(RuntimeError):
    """Temporal could not be reached or refused the connection; ``str()`` is one line."""


@dataclass(frozen=True)
class TemporalConnection:
    """Everything ``Client.connect`` needs, resolved; ``repr`` never shows the API key."""

    address: str
    namespace: str
    tls: bool | TLSConfig = False
    api_key: str | None = field(default=None, repr=False)
    rpc_metadata: Mapping[str, str] = field(default_factory=dict, repr=False)

    def describe(self) -> str:
        """``host:port (namespace default, mTLS, API key)``: what an operator needs to see."""
        how = [f"namespace {self.namespace}"]
        if isinstance(self.tls, TLSConfig):
            how.append("mTLS" if self.tls.client_cert else "TLS")
        elif self.tls:
            how.append("TLS")
        if self.api_key:
            how.append("API key")
        return f"{self.address} ({', '.join(how)})"

    async def connect(self, **options: Any) -> Client:
        """A client with Autopilot's data converter; TemporalConnectError in one line."""
        options.setdefault("data_converter", pydantic_data_converter)
        try:
            return await Client.connect(
                self.address,
                namespace=self.namespace,
                tls=self.tls,
                api_key=self.api_key,
                rpc_metadata=dict(self.rpc_metadata),
                **options,
            )
        except RuntimeError as failure:
            # The core's message can span lines (a gRPC status and its causes).
            detail = " ".join(str(failure).split())[:300]
            raise TemporalConnectError(
                f"cannot reach Temporal at {self.describe()}: {_hint(detail, self.tls)}{detail}"
            ) from None


# Plain words for the TLS failures an operator meets, by what the core's message contains.
_HINTS = (
    ("UnknownIssuer", "the server's certificate is not signed by temporal.server_ca_cert"),
    ("NotValidForName", "the server's certificate does not name it (set temporal.server_name)"),
    ("Connection refused", "nothing listens there"),
)
# The server hung up after the TLS handshake began or right after it; which of these the
# core reports depends on whether the server's alert or its reset reaches the client first.
_HUNG_UP = ("close_notify", "broken pipe", "brokenpipe", "certificaterequired", "connectionreset")


def _hint(detail: str, tls: bool | TLSConfig) -> str:
    for needle, hint in _HINTS:
        if needle in detail:
            return f"{hint}; "
    if tls is False and "after connection" in detail:
        return "the connection broke (does the server need TLS? temporal.tls: true); "
    no_client_cert = not (isinstance(tls, TLSConfig) and tls.client_cert)
    if tls is not False and no_client_cert and any(n in detail.lower() for n in _HUNG_UP):
        return "the server hung up (does it need a client certificate? temporal.client_cert); "
    return ""


def temporal_connection(config: AutopilotConfig) -> TemporalConnection:
    """The resolved connection for ``config`` (see the module docstring for precedence)."""
    source = config._source
    env = config._env
    settings = config.temporal
    explicit = settings.model_fields_set
    profile = temporal_profile(settings, env, source)
    address = settings.address if "address" in explicit else profile.address or settings.address
    namespace = resolved_namespace(config)
    api_key = env.get(settings.api_key_env, "").strip() or profile.api_key or None
    return TemporalConnection(
        address=address,
        namespace=namespace,
        tls=_tls(settings, profile, api_key is not None, source),
        api_key=api_key,
        rpc_metadata=dict(profile.grpc_meta),
    )


def _tls(
    settings: TemporalSettings, profile: ClientConfigProfile, api_key: bool, source: str
) -> bool | TLSConfig:
    """Autopilot's TLS keys when any is set, else the profile's; an API key implies TLS."""
    if settings.tls is False:
        return False
    if any(getattr(settings, key) is not None for key in _TLS_KEYS):
        ca = _read_pem(settings.server_ca_cert, "temporal.server_ca_cert", source)
        cert = _read_pem(settings.client_cert, "temporal.client_cert", source)
        key = _read_pem(settings.client_key, "temporal.client_key", source)
        _check_tls_files(settings, source)
        return TLSConfig(
            server_root_ca_cert=ca,
            client_cert=cert,
            client_private_key=key,
            domain=settings.server_name,
        )
    if profile.tls is not None:
        try:
            return profile.tls.to_connect_tls_config()
        except OSError as failure:
            reason = f"cannot read {failure.filename}: {failure.strerror}"
            raise ConfigError(source, "temporal.profile", f"TLS file: {reason}") from None
    return bool(settings.tls) or api_key


def _read_pem(path: Path | None, key: str, source: str) -> bytes | None:
    if path is None:
        return None
    try:
        data = path.expanduser().read_bytes()
    except OSError as failure:
        raise ConfigError(source, key, f"cannot read {path}: {failure.strerror}") from None
    if b"-----BEGIN " not in data:
        raise ConfigError(source, key, f"{path} is not a PEM file")
    return data


def _check_tls_files(settings: TemporalSettings, source: str) -> None:
    """Parse the CA and the certificate/key pair now, so a wrong file is named, not a handshake."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if settings.server_ca_cert is not None:
        try:
            context.load_verify_locations(cafile=str(settings.server_ca_cert.expanduser()))
        except (ssl.SSLError, ValueError):
            raise ConfigError(
                source,
                "temporal.server_ca_cert",
                f"{settings.server_ca_cert} holds no valid PEM certificate",
            ) from None
    if settings.client_cert is None or settings.client_key is None:
        return
    cert, key = settings.client_cert.expanduser(), settings.client_key.expanduser()
    try:
        context.load_cert_chain(certfile=str(cert), keyfile=str(key), password=_no_password)
    except ssl.SSLError as failure:
        reason = (
            f"{key} is not the private key of {cert}"
            if "KEY_VALUES_MISMATCH" in str(failure)
            else f"{cert} / {key}: not a valid PEM certificate and unencrypted private key"
        )
        raise ConfigError(source, "temporal.client_key", reason) from None


def _no_password() -> bytes:
    # An encrypted key would otherwise prompt on the terminal; the SDK cannot use one anyway.
    raise ssl.SSLError("encrypted private key")
