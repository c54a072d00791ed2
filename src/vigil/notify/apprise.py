"""``apprise``: any service Apprise speaks (``slack://…``, ``mailto://…``, ``ntfy://…``, ``json://…``).

Apprise is synchronous, so each channel sends on a thread of its own and never blocks the
event loop; one thread per channel also keeps a slow service from taking threads other work
needs, and keeps calls on the channel's Apprise object sequential. Apprise reports only
success or failure; the reason given is the last warning it logged during the call.

A call cannot be stopped once it runs: when the worker's timeout gives up on it, it goes on
and may still deliver. So the call is kept under its message's key, and a retry of that key
first waits for it: if it delivered, the retry reports success without sending again; only if
it failed is the message sent anew.

Apprise URLs carry their tokens anywhere (host, path, user), so errors show only the scheme.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import apprise

from vigil.config.notify import ChannelConfig
from vigil.config.secrets import redact_url
from vigil.notify.base import ChannelKind, DeliveryError, Message, MessageEvent

# Below the worker's per-message timeout, so that Apprise gives up first and says why.
TIMEOUT_SECONDS = 10.0
# Calls kept after their sender stopped waiting, at most (see ``AppriseChannel._keep``).
KEPT_CALLS = 1000
NOTIFY_TYPES = {
    MessageEvent.TRIGGERED: apprise.NotifyType.FAILURE,
    MessageEvent.ACKNOWLEDGED: apprise.NotifyType.WARNING,
    MessageEvent.RESOLVED: apprise.NotifyType.SUCCESS,
}


class AppriseChannel:
    def __init__(self, name: str, url: str, *, timeout: float = TIMEOUT_SECONDS) -> None:
        self.name = name
        self.url = url
        self.shown = f"{url.split('://', 1)[0]}://…" if "://" in url else "(not a URL)"
        self.timeout = timeout
        self._apprise: apprise.Apprise | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"vigil-apprise-{name}")
        # Calls whose sender stopped waiting (timed out) while they ran on, by message key.
        self._unfinished: dict[str, asyncio.Future[None]] = {}

    async def send(self, message: Message) -> None:
        earlier = self._unfinished.pop(message.key, None)
        if earlier is not None and await self._delivered(message.key, earlier):
            return
        call = asyncio.get_running_loop().run_in_executor(self._executor, self._notify, message)
        try:
            # Shielded: a cancelled wait must leave the call's outcome to be read by the retry.
            await asyncio.shield(call)
        except asyncio.CancelledError:
            self._keep(message.key, call)
            raise

    async def _delivered(self, key: str, earlier: asyncio.Future[None]) -> bool:
        """Whether the earlier call for ``key`` delivered; waits for it to end."""
        try:
            await asyncio.shield(earlier)
        except asyncio.CancelledError:
            self._keep(key, earlier)
            raise
        except Exception:
            return False  # it failed: send anew
        return True

    def _keep(self, key: str, call: asyncio.Future[None]) -> None:
        self._unfinished[key] = call
        # Bounded: a delivered call whose retry never comes (another instance sent it, or it
        # expired) would stay for ever; past the bound the oldest finished ones go first.
        if len(self._unfinished) > KEPT_CALLS:
            for old in [k for k, f in self._unfinished.items() if f.done()][
                : len(self._unfinished) - KEPT_CALLS
            ]:
                del self._unfinished[old]

        def forget_failure(done: asyncio.Future[None]) -> None:
            # A failed call is as good as none for the retry; a delivered one is kept until a
            # retry of its key asks (the worker recorded a failure, so one comes).
            failed = done.cancelled() or done.exception() is not None
            if failed and self._unfinished.get(key) is done:
                del self._unfinished[key]

        call.add_done_callback(forget_failure)

    async def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

    def _notify(self, message: Message) -> None:
        """Runs on the channel's thread."""
        if self._apprise is None:
            loaded = apprise.Apprise()
            if not loaded.add(self.url):
                raise DeliveryError(f"apprise {self.shown}: Apprise does not accept this URL", permanent=True)
            self._apprise = loaded
        result = self._apprise.notify(
            body=message.body,
            title=message.title,
            notify_type=NOTIFY_TYPES.get(message.event, apprise.NotifyType.INFO),
            # Plain text as written: an email keeps an update's lines instead of running them together.
            body_format=apprise.NotifyFormat.TEXT,
            timeout=self.timeout,
        )
        if result:
            return
        said = [e.message for e in result.logs() if e.level in ("WARNING", "ERROR", "CRITICAL")]
        reason = said[-1].strip().splitlines()[0] if said and said[-1].strip() else "no detail given"
        raise DeliveryError(
            f"apprise {self.shown} failed: {redact_url(reason.replace(self.url, self.shown))}"
        )


def _factory(name: str, config: ChannelConfig) -> AppriseChannel:
    return AppriseChannel(name, str(config.apprise))


KIND = ChannelKind("apprise", _factory)
