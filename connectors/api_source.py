"""What the connectors of REST sources with a thin AMQP feed share (Greg, Cerebrum,
Felles IAM): their settings, the session, following the feed in batches, and turning
one fetch into an item.

Such a source announces each change with a message that names an object but holds no
values; the connector fetches the object again and publishes it. A source that sends
several messages for one change (Greg sends one per role and identity of a new guest)
is read in batches (:func:`connectors.sdk.amqp.batches`), so each object named in a
batch is fetched once, and the batch is acknowledged after its last item is on Kafka.
"""

from __future__ import annotations

import abc
import contextlib
import functools
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import replace
from typing import ClassVar, TypeVar

from pydantic import AliasChoices, Field, SecretStr

from connectors.sdk import http
from connectors.sdk.amqp import Notification, acknowledge_all, batches, notifications
from connectors.sdk.errors import SourceUnavailableError
from connectors.sdk.items import Checkpoint, Delete, Failed, Item, Record, mapped
from hub.errors import HubError, MappingError
from hub.settings import HubSettings

__all__ = [
    "ApiSourceConnector",
    "ApiSourceSettings",
    "classifier",
    "hub_pseudonym_secret",
    "same_size",
]


def hub_pseudonym_secret() -> SecretStr:
    """The hub's default pseudonym secret (``HUB_PSEUDONYM_SECRET`` overrides it)."""
    default = HubSettings.model_fields["pseudonym_secret"].default
    assert isinstance(default, SecretStr)  # noqa: S101 - the hub's own default
    return default


class ApiSourceSettings(http.HttpSourceSettings):
    """How to reach a source's REST API and its notification feed. A source's model
    subclasses this with its own ``env_prefix`` (``HUB_GREG_``)."""

    api_key: SecretStr | None = Field(default=None, description="The API (gateway) key, if any.")
    api_key_header: str = Field(default="X-Gravitee-Api-Key")
    amqp_url: SecretStr | None = Field(
        default=None,
        description=(
            "amqp://user:password@host:port/vhost of the notification feed; unset means no"
            " feed (full reconciliation only, or polling where the source allows it)."
        ),
    )
    amqp_exchange: str = Field(
        default="", description="The topic exchange the notifications arrive on ('': a queue)."
    )
    amqp_queue: str | None = Field(
        default=None, description="The connector's queue; default hub.<connector>.<institution>."
    )
    amqp_routing_key: str | None = Field(
        default=None, description="What the queue is bound to; default the source's own keys."
    )
    amqp_prefetch: int = Field(default=100, ge=1, le=10_000)
    amqp_batch_window_s: float = Field(
        default=0.2,
        ge=0,
        le=60,
        description="How long to wait for more notifications before fetching what a batch names.",
    )
    pseudonym_secret: SecretStr = Field(
        default_factory=hub_pseudonym_secret,
        validation_alias=AliasChoices("HUB_PSEUDONYM_SECRET", "pseudonym_secret"),
        description="The hub's HMAC key for national ID and passport pseudonyms.",
    )


SettingsT = TypeVar("SettingsT", bound=ApiSourceSettings)
Mapper = Callable[[object], Record]
T = TypeVar("T")


def classifier(
    source: str, prefix: str, not_found: Callable[[http.Response], str | None]
) -> Callable[[http.Response], http.Answer]:
    """What ``source``'s answers mean (a connector's ``answers``): ``not_found`` tells its
    own 404 (a deletion) from a gateway's (a fault); messages name the ``prefix``'s
    settings to check."""
    return functools.partial(
        http.classify,
        source=source,
        not_found=not_found,
        auth_hint=f" (check {prefix}API_KEY)",
        gateway_hint=f" (check {prefix}BASE_URL)",
    )


def same_size(before: int | None, now: int, what: str) -> int:
    """The size of a list being paged, refusing one that changes while it is read: a
    record moved across a page boundary would be skipped and look deleted."""
    if before is not None and now != before:
        raise SourceUnavailableError(
            f"{what} changed while it was read ({before} → {now}): reading it again"
        )
    return now


class ApiSourceConnector(http.HttpConnector[SettingsT], abc.ABC):
    """A connector that follows a source's AMQP feed and fetches what it names.

    Subclasses give ``routing_key`` (the source's keys), ``answers`` (what the source's
    answers mean: a partial of :func:`connectors.sdk.http.classify`) and
    :meth:`on_batch`; :meth:`resume`, :meth:`wake_in` and :meth:`poll` are optional.
    """

    routing_key: ClassVar[str] = "#"

    def credentials(self) -> dict[str, str]:
        key = self.settings.api_key
        return {self.settings.api_key_header: key.get_secret_value()} if key is not None else {}

    @property
    def queue(self) -> str:
        return self.settings.amqp_queue or f"hub.{self.name}.{self.settings.institution}"

    @property
    def binding(self) -> str:
        """The routing key the queue is bound to."""
        return self.settings.amqp_routing_key or self.routing_key

    # -- incremental ----------------------------------------------------------------

    async def changes(self, cursor: str | None) -> AsyncIterator[Item]:
        """Follow the feed in batches; each batch's items end with its acknowledgement.
        Without a feed, :meth:`poll` (by default nothing: reconciliation only)."""
        self.resume(cursor)
        if self.settings.amqp_url is None:
            async for item in self.poll(cursor):
                yield item
            return
        feed = notifications(
            self.settings.amqp_url.get_secret_value(),
            queue=self.queue,
            exchange=self.settings.amqp_exchange,
            routing_key=self.binding,
            prefetch=self.settings.amqp_prefetch,
        )
        stream = batches(
            feed,
            window_s=self.settings.amqp_batch_window_s,
            limit=self.settings.amqp_prefetch,
            wake_in=self.wake_in,
        )
        # aclosing: a fault while handling a batch closes the feed at once, so its
        # unacknowledged messages go back to the queue for the next consumer.
        async with contextlib.aclosing(feed), contextlib.aclosing(stream):
            async for batch in stream:
                items = list(await self.on_batch(batch)) or [Checkpoint()]
                if batch:
                    items[-1] = replace(items[-1], acknowledge=acknowledge_all(batch))
                for item in items:
                    yield item

    def resume(self, cursor: str | None) -> None:
        """Read what the last committed cursor says, before the feed is followed."""

    def wake_in(self) -> float | None:
        """Seconds until the connector wants to act without a notification, or None."""
        return None

    async def poll(self, cursor: str | None) -> AsyncIterator[Item]:
        """What changed since ``cursor`` when there is no feed; by default nothing."""
        nothing: tuple[Item, ...] = ()
        for item in nothing:
            yield item

    @abc.abstractmethod
    async def on_batch(self, batch: Sequence[Notification]) -> Sequence[Item]:
        """The items a batch of notifications causes (an empty batch: woken by
        :meth:`wake_in`)."""

    def readable(
        self, batch: Sequence[Notification], parse: Callable[[Notification], T], failed: list[Item]
    ) -> list[T]:
        """The notifications of a batch as ``parse`` reads them; each one it cannot read
        (MappingError) is added to ``failed`` as a dead letter, origin ``amqp:<queue>``."""
        found = []
        for notification in batch:
            try:
                found.append(parse(notification))
            except MappingError as exc:
                origin = f"amqp:{self.queue}"
                failed.append(Failed(raw=notification.body, error=exc, origin=origin))
        return found

    # -- fetching ----------------------------------------------------------------------

    async def get(self, path: str, params: dict[str, str] | None = None) -> http.Answer:
        """GET ``path`` below the base URL, classified."""
        return await self.session.get(path, params=params)

    async def listing(
        self, path: str, params: dict[str, str] | None, read: Callable[[object], T]
    ) -> T:
        """GET a list (or a page of one) and ``read`` its JSON. Anything but a readable
        list is a fault: a listing that cannot be read must not delete anything."""
        what = f"{self.name}: the {path} list"
        payload = await self.session.get_json(path, what=what, params=params)
        try:
            return read(payload)
        except HubError as exc:
            raise SourceUnavailableError(str(exc)) from exc

    async def fetch(self, path: str, mapper: Mapper, *, key: str, origin: str) -> Item:
        """``GET path`` as an item: the mapped record, a tombstone when the source says the
        object is gone, or a dead letter (a refusal, or a body that cannot be mapped)."""
        answer = await self.get(path)
        if isinstance(answer, http.NotFound):
            return self.gone(key)
        if isinstance(answer, http.Refused):
            return self.refused(answer, path, key=key, origin=origin)
        return mapped(answer.body, mapper, origin=origin, key=key)

    def gone(self, key: str) -> Delete:
        """A tombstone for ``key`` at this connector's institution."""
        return Delete(key=key, institution=self.settings.institution, source_id=key)

    def refused(self, answer: http.Refused, path: str, *, key: str, origin: str) -> Failed:
        """A request the source refused: a dead letter with the source's reason."""
        error = MappingError(f"{self.name}: the source refused GET {path}: {answer.status}")
        return Failed(raw=answer.detail.encode(), error=error, origin=origin, key=key)
