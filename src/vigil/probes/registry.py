"""Every probe kind, in one place. Adding a kind: a new module here and one line below."""

from __future__ import annotations

from typing import Any

from vigil.probes import (
    amqp,
    backup,
    celery,
    command,
    dns,
    heartbeat,
    http,
    mongodb,
    mysql,
    postgres,
    qdrant,
    redis,
    statuspage,
    system,
    tcp,
    tls,
    websocket,
)
from vigil.probes.base import ProbeKind

KINDS: dict[str, ProbeKind[Any]] = {
    kind.name: kind
    for kind in (
        http.KIND,
        tcp.KIND,
        postgres.KIND,
        redis.KIND,
        mysql.KIND,
        system.KIND,
        command.KIND,
        tls.KIND,
        dns.KIND,
        websocket.KIND,
        amqp.KIND,
        celery.KIND,
        qdrant.KIND,
        statuspage.KIND,
        mongodb.KIND,
        heartbeat.KIND,
        backup.KIND,
    )
}
