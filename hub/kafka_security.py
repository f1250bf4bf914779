"""How the hub's Kafka clients authenticate and encrypt: SASL_SSL (SCRAM) or mutual TLS.

Read from ``HUB_KAFKA_*`` environment variables (see docs/security.md):

========================================  ==================================================
``HUB_KAFKA_SECURITY_PROTOCOL``           ``PLAINTEXT`` (default), ``SSL``, ``SASL_SSL`` or
                                          ``SASL_PLAINTEXT`` (tests only)
``HUB_KAFKA_SASL_MECHANISM``              ``SCRAM-SHA-512`` (default), ``SCRAM-SHA-256``,
                                          ``PLAIN``
``HUB_KAFKA_SASL_USERNAME`` / ``_PASSWORD``  the SASL user; the password is a secret
``HUB_KAFKA_SSL_CAFILE``                  PEM file of the CA(s) that signed the brokers
``HUB_KAFKA_SSL_CERTFILE`` / ``_KEYFILE``    PEM client certificate and key (mutual TLS)
``HUB_KAFKA_SSL_KEY_PASSWORD``            the key's password, if it has one (a secret)
========================================  ==================================================

Every Kafka client the hub makes (the faust worker, the CLI's consumers, producers and
admin clients) takes its options from :func:`kafka_client_options` or
:func:`faust_credentials`. Secrets are :class:`pydantic.SecretStr`: they print as
``**********`` and are never logged.
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any, Literal

from pydantic import SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from hub.errors import ConfigurationError

__all__ = ["KafkaSecurity", "faust_credentials", "kafka_client_options", "load_kafka_security"]


class KafkaSecurity(BaseSettings):
    """The Kafka clients' security settings."""

    model_config = SettingsConfigDict(
        env_prefix="HUB_KAFKA_", env_file=".env", extra="ignore", frozen=True
    )

    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = "SCRAM-SHA-512"
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_cafile: Path | None = None
    ssl_certfile: Path | None = None
    ssl_keyfile: Path | None = None
    ssl_key_password: SecretStr | None = None

    @model_validator(mode="after")
    def _complete(self) -> KafkaSecurity:
        protocol = self.security_protocol
        if protocol.startswith("SASL") and not (self.sasl_username and self.sasl_password):
            raise ValueError(
                f"{protocol} needs HUB_KAFKA_SASL_USERNAME and HUB_KAFKA_SASL_PASSWORD"
            )
        if (self.ssl_certfile is None) != (self.ssl_keyfile is None):
            raise ValueError(
                "mutual TLS needs both HUB_KAFKA_SSL_CERTFILE and HUB_KAFKA_SSL_KEYFILE"
            )
        for name in ("ssl_cafile", "ssl_certfile", "ssl_keyfile"):
            path = getattr(self, name)
            if path is not None and not path.is_file():
                raise ValueError(f"HUB_KAFKA_{name.upper()} {path} is not a readable file")
        return self

    @property
    def uses_tls(self) -> bool:
        return self.security_protocol in ("SSL", "SASL_SSL")

    def ssl_context(self) -> ssl.SSLContext | None:
        """The TLS context: the CA to trust and, for mutual TLS, the client's certificate."""
        if not self.uses_tls:
            return None
        from aiokafka.helpers import create_ssl_context  # noqa: PLC0415

        password = self.ssl_key_password.get_secret_value() if self.ssl_key_password else None
        try:
            context: ssl.SSLContext = create_ssl_context(
                cafile=str(self.ssl_cafile) if self.ssl_cafile else None,
                certfile=str(self.ssl_certfile) if self.ssl_certfile else None,
                keyfile=str(self.ssl_keyfile) if self.ssl_keyfile else None,
                password=password,
            )
        except (ssl.SSLError, OSError) as exc:
            raise ConfigurationError(f"cannot load the Kafka TLS files: {exc}") from exc
        return context


def load_kafka_security(**overrides: object) -> KafkaSecurity:
    """The security settings from the environment, or a ConfigurationError naming the
    problem (never a secret's value)."""
    try:
        return KafkaSecurity(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = "; ".join(
            (f"HUB_KAFKA_{'_'.join(str(p) for p in err['loc']).upper()}: " if err["loc"] else "")
            + err["msg"].removeprefix("Value error, ")
            for err in exc.errors()
        )
        raise ConfigurationError(f"invalid Kafka security settings: {problems}") from None


def kafka_client_options(security: KafkaSecurity | None = None) -> dict[str, Any]:
    """Keyword arguments for aiokafka's consumers, producers and admin clients."""
    security = security or load_kafka_security()
    if security.security_protocol == "PLAINTEXT":
        return {}
    options: dict[str, Any] = {"security_protocol": security.security_protocol}
    context = security.ssl_context()
    if context is not None:
        options["ssl_context"] = context
    if security.security_protocol.startswith("SASL"):
        options["sasl_mechanism"] = security.sasl_mechanism
        options["sasl_plain_username"] = security.sasl_username
        options["sasl_plain_password"] = (
            security.sasl_password.get_secret_value() if security.sasl_password else None
        )
    return options


def faust_credentials(security: KafkaSecurity | None = None) -> Any:
    """The faust ``broker_credentials`` for the same settings (None for PLAINTEXT)."""
    import faust  # noqa: PLC0415

    security = security or load_kafka_security()
    protocol = security.security_protocol
    if protocol == "PLAINTEXT":
        return None
    context = security.ssl_context()
    if protocol == "SSL":
        return faust.SSLCredentials(context)
    return faust.SASLCredentials(
        username=security.sasl_username,
        password=security.sasl_password.get_secret_value() if security.sasl_password else None,
        ssl_context=context,
        mechanism=security.sasl_mechanism,
    )
