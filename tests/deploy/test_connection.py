"""config.temporal: Autopilot's temporal.* keys over Temporal's own profile, TLS and mTLS against
the real dev server behind TLS, and one-line errors for bad certificates, keys and overrides."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.service import TLSConfig

from config.settings import AutopilotConfig, ConfigError, load_config
from config.temporal import TemporalConnectError, _hint, temporal_connection
from tests.deploy.conftest import write_config
from tests.deploy.tls import SERVER_NAME, Certificates


def load(tmp_path: Path, temporal: str = "", **env: str) -> AutopilotConfig:
    repositories = tmp_path / "repositories.yaml"
    repositories.write_text("")
    return load_config(
        write_config(tmp_path, temporal), repositories, env={"HOME": str(tmp_path), **env}
    )


def mtls_yaml(certs: Certificates, address: str, key: Path | None = None) -> str:
    return (
        f"  address: '{address}'\n"
        f"  server_ca_cert: {certs.ca}\n"
        f"  client_cert: {certs.client_cert}\n"
        f"  client_key: {key or certs.client_key}\n"
        f"  server_name: {SERVER_NAME}\n"
    )


def test_defaults_are_the_local_plaintext_server(tmp_path: Path) -> None:
    connection = temporal_connection(load(tmp_path))
    assert (connection.address, connection.namespace) == ("127.0.0.1:7233", "default")
    assert connection.tls is False and connection.api_key is None


def test_temporal_environment_variables_fill_what_autopilot_leaves_unset(tmp_path: Path) -> None:
    env = {
        "TEMPORAL_ADDRESS": "temporal.internal:7233",
        "TEMPORAL_NAMESPACE": "team",
        "TEMPORAL_API_KEY": "secret-key",
    }
    connection = temporal_connection(load(tmp_path, **env))
    assert (connection.address, connection.namespace) == ("temporal.internal:7233", "team")
    assert connection.api_key == "secret-key" and connection.tls is True  # a key implies TLS
    assert "secret-key" not in repr(connection) + connection.describe()
    # Autopilot's own keys (file or AUTOPILOT__ variable) win over Temporal's.
    connection = temporal_connection(
        load(
            tmp_path, "  address: 'a.example:7233'\n", AUTOPILOT__TEMPORAL__NAMESPACE="mine", **env
        )
    )
    assert (connection.address, connection.namespace) == ("a.example:7233", "mine")


def test_temporal_profile_file_is_honoured(tmp_path: Path) -> None:
    toml = tmp_path / "temporal.toml"
    toml.write_text(
        '[profile.prod]\naddress = "prod.example:7233"\nnamespace = "prod"\n'
        '[profile.prod.tls]\nserver_name = "prod.example"\n'
    )
    config = load(tmp_path, "  profile: prod\n", TEMPORAL_CONFIG_FILE=str(toml))
    connection = temporal_connection(config)
    assert (connection.address, connection.namespace) == ("prod.example:7233", "prod")
    assert isinstance(connection.tls, TLSConfig) and connection.tls.domain == "prod.example"


def test_missing_profile_is_one_line(tmp_path: Path) -> None:
    toml = tmp_path / "temporal.toml"
    toml.write_text('[profile.prod]\naddress = "prod.example:7233"\n')
    config = load(tmp_path, "  profile: nope\n", TEMPORAL_CONFIG_FILE=str(toml))
    with pytest.raises(ConfigError) as failure:
        temporal_connection(config)
    assert "temporal.profile" in str(failure.value) and "\n" not in str(failure.value)


def test_api_key_comes_only_from_the_environment(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as failure:
        load(tmp_path, AUTOPILOT__TEMPORAL__API_KEY="k")
    assert str(failure.value) == (
        "environment variable AUTOPILOT__TEMPORAL__API_KEY: temporal.api_key: secrets are read "
        "from the variable named by temporal.api_key_env, not from overrides"
    )
    with pytest.raises(ConfigError) as failure:
        load(tmp_path, "  api_key: k\n")
    assert "temporal.api_key: secrets do not belong in config files" in str(failure.value)
    config = load(tmp_path, "  api_key_env: CLOUD_KEY\n", CLOUD_KEY="from-env")
    assert temporal_connection(config).api_key == "from-env"


def test_empty_overrides_mean_the_default(tmp_path: Path) -> None:
    """What a Gitea Actions job passes for repository variables nobody set."""
    config = load(
        tmp_path,
        AUTOPILOT__TEMPORAL__ADDRESS="",
        AUTOPILOT__TEMPORAL__NAMESPACE="",
        AUTOPILOT__TEMPORAL__UI_URL=" ",
    )
    assert config.temporal.namespace == "default"
    assert temporal_connection(config).address == "127.0.0.1:7233"


@pytest.mark.parametrize(
    ("temporal", "expected"),
    [
        ("  client_cert: {certs.client_cert}\n", "client_cert and client_key: set both"),
        ("  server_ca_cert: {tmp}/missing.pem\n", "temporal.server_ca_cert: cannot read"),
        ("  server_ca_cert: {certs.client_key}\n", "holds no valid PEM certificate"),
        ("  server_ca_cert: {tmp}/autopilot.yaml\n", "is not a PEM file"),
        (
            "  client_cert: {certs.client_cert}\n  client_key: {certs.other_key}\n",
            "temporal.client_key: {certs.other_key} is not the private key of",
        ),
        (
            "  client_cert: {certs.client_key}\n  client_key: {certs.client_key}\n",
            "not a valid PEM certificate and unencrypted private key",
        ),
    ],
)
def test_bad_certificates_and_keys_are_one_line(
    tmp_path: Path, certs: Certificates, temporal: str, expected: str
) -> None:
    fill = {"certs": certs, "tmp": tmp_path}
    with pytest.raises(ConfigError) as failure:
        temporal_connection(load(tmp_path, temporal.format(**fill)))
    message = str(failure.value)
    assert expected.format(**fill) in message and "\n" not in message


async def test_mtls_connection_to_the_dev_server(
    tmp_path: Path, certs: Certificates, mtls_address: str
) -> None:
    connection = temporal_connection(load(tmp_path, mtls_yaml(certs, mtls_address)))
    assert connection.describe() == f"{mtls_address} (namespace default, mTLS)"
    client = await connection.connect()
    assert await client.service_client.check_health()
    await client.count_workflows()


async def test_the_same_with_temporal_environment_variables(
    tmp_path: Path, certs: Certificates, mtls_address: str
) -> None:
    env = {
        "TEMPORAL_ADDRESS": mtls_address,
        "TEMPORAL_TLS_SERVER_CA_CERT_PATH": str(certs.ca),
        "TEMPORAL_TLS_CLIENT_CERT_PATH": str(certs.client_cert),
        "TEMPORAL_TLS_CLIENT_KEY_PATH": str(certs.client_key),
        "TEMPORAL_TLS_SERVER_NAME": SERVER_NAME,
    }
    client = await temporal_connection(load(tmp_path, **env)).connect()
    assert await client.service_client.check_health()


async def test_server_tls_with_an_api_key(
    tmp_path: Path, certs: Certificates, tls_address: str
) -> None:
    temporal = f"  address: '{tls_address}'\n  server_ca_cert: {certs.ca}\n"
    connection = temporal_connection(load(tmp_path, temporal, TEMPORAL_API_KEY="key"))
    assert connection.describe() == f"{tls_address} (namespace default, TLS, API key)"
    assert await (await connection.connect()).service_client.check_health()


@pytest.mark.parametrize(
    ("case", "hint"),
    [
        ("no client certificate", "does it need a client certificate?"),
        ("wrong server name", "does not name it (set temporal.server_name)"),
        ("plaintext", "does the server need TLS?"),
    ],
)
async def test_refused_tls_is_one_line(
    tmp_path: Path, certs: Certificates, mtls_address: str, case: str, hint: str
) -> None:
    temporal = {
        "no client certificate": f"  address: '{mtls_address}'\n  server_ca_cert: {certs.ca}\n",
        "wrong server name": mtls_yaml(certs, mtls_address).replace(SERVER_NAME, "other.test"),
        "plaintext": f"  address: '{mtls_address}'\n",
    }[case]
    connection = temporal_connection(load(tmp_path, temporal))
    with pytest.raises(TemporalConnectError) as failure:
        await connection.connect()
    message = str(failure.value)
    assert message.startswith(f"cannot reach Temporal at {mtls_address}") and "\n" not in message
    assert hint in message


# What the core reported when an mTLS server hung up on a client without a certificate: the
# alert, the reset or the broken pipe arrives first depending on timing.
HUNG_UP_REPORTS = [
    "Failed client connect: `get_system_info` call error after connection: Status { code: "
    'Unavailable, message: "transport error", source: Some(tonic::transport::Error(Transport, '
    "hyper::Error(Io, Kind(ConnectionReset)))) }",
    "Failed client connect: ... received fatal alert: CertificateRequired",
    "Failed client connect: ... peer closed connection without sending TLS close_notify",
    "Failed client connect: ... Broken pipe (os error 32)",
]


@pytest.mark.parametrize("report", HUNG_UP_REPORTS)
def test_a_hang_up_without_a_client_certificate_asks_for_one(report: str) -> None:
    tls = TLSConfig(server_root_ca_cert=b"ca")
    assert "does it need a client certificate?" in _hint(report, tls)
    with_cert = TLSConfig(server_root_ca_cert=b"ca", client_cert=b"c", client_private_key=b"k")
    assert _hint(report, with_cert) == ""
