"""An autobahn client for the Crossbar node tests, run by the crossbar venv's python (not the test venv's).

It publishes acknowledged events to ``com.example.<n>`` at a rate, bounded by a count and a time, and
prints its tally as one JSON object on stdout. With ``--subscribe`` a second session subscribes to the
prefix ``com.example.`` (the realm store's event-history subscription), so the store also keeps one
Event per publication. With ``--fill DIR`` it publishes until the store has committed nothing (the
newest meta page's txnid of DIR/data.mdb, read through this package's page reader: no LMDB open, no
lock) while ``--stalled-acks`` consecutive publishes were acknowledged (Crossbar goes on acknowledging
after its store hit MapFullError, storing nothing): the tally then says when the file last grew. (A file
that stopped growing is not enough: near the map the store goes on committing into freed pages, and a
fill that stopped there found no MapFullError in the node's log.)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from dataclasses import asdict, dataclass
from typing import Any

import txaio

txaio.use_asyncio()

from autobahn.asyncio.wamp import ApplicationRunner, ApplicationSession  # noqa: E402
from autobahn.wamp.types import PublishOptions, SubscribeOptions  # noqa: E402


def _parse() -> argparse.Namespace:
    p = argparse.ArgumentParser()
    p.add_argument("--url", required=True)
    p.add_argument("--realm", default="realm1")
    p.add_argument("--count", type=int, default=1000, help="publishes at most")
    p.add_argument("--rate", type=float, default=150.0, help="publishes per second")
    p.add_argument("--seconds", type=float, default=30.0, help="publishing ends after this long")
    p.add_argument("--payload", type=int, default=16, help="bytes of text in each event")
    p.add_argument("--subscribe", action="store_true")
    p.add_argument("--fill", metavar="DIR", help="stop once DIR/data.mdb stopped growing")
    p.add_argument("--stalled-acks", type=int, default=300)
    return p.parse_args()


@dataclass
class Tally:
    """What the run did, printed as one JSON object (typed: each counter stays an int)."""

    published: int = 0
    acknowledged: int = 0
    failed: int = 0
    received: int = 0
    seconds: float = 0.0
    last_growth_at: float | None = None  # time.time() when data.mdb last grew (--fill)
    data_mdb_size: int | None = None
    stalled_acks: int = 0
    stop: str = "count"  # "count", "time" or "stalled"
    error: str | None = None  # the last publish error, if any


async def _run(args: argparse.Namespace) -> Tally:
    tally = Tally()
    joined: dict[str, asyncio.Future] = {}
    loop = asyncio.get_running_loop()

    class Sub(ApplicationSession):
        async def onJoin(self, details):
            def on_event(*_a, **_kw):
                tally.received += 1
            await self.subscribe(on_event, "com.example.", options=SubscribeOptions(match="prefix"))
            joined["sub"].set_result(self)

    class Pub(ApplicationSession):
        async def onJoin(self, details):
            joined["pub"].set_result(self)

    runners = []
    names = (["sub"] if args.subscribe else []) + ["pub"]
    for name in names:
        joined[name] = loop.create_future()
        runner = ApplicationRunner(args.url, args.realm)
        runners.append(await runner.run(Sub if name == "sub" else Pub, start_loop=False))
        await asyncio.wait_for(joined[name], 20)
    pub: ApplicationSession = joined["pub"].result()
    data_mdb = os.path.join(args.fill, "data.mdb") if args.fill else None
    size = os.stat(data_mdb).st_size if data_mdb else None
    metas = None
    if data_mdb:
        from zlmdb_inspect.storage.pageformat import PageFile  # (installed in the crossbar venv with the tests' tree)

        metas = PageFile(data_mdb)
    txnid = max(m.txnid for m in metas.metas) if metas else None
    payload = "x" * args.payload
    started = time.monotonic()
    opts = PublishOptions(acknowledge=True, exclude_me=False)
    while tally.published < args.count:
        now = time.monotonic()
        if now - started >= args.seconds:
            tally.stop = "time"
            break
        due = started + tally.published / args.rate
        if due > now:
            await asyncio.sleep(due - now)
        tally.published += 1
        try:
            await pub.publish(f"com.example.{tally.published % 10}", tally.published, payload, options=opts)
            tally.acknowledged += 1
        except Exception as e:  # noqa: BLE001 (counted and reported, the tally says how many)
            tally.failed += 1
            tally.error = repr(e)
        if data_mdb and metas:
            new = os.stat(data_mdb).st_size
            if new != size:
                size, tally.last_growth_at = new, time.time()
            metas.reload_metas()
            committed = max(m.txnid for m in metas.metas)
            if committed != txnid:
                txnid, tally.stalled_acks = committed, 0
            else:
                tally.stalled_acks += 1
                if tally.stalled_acks >= args.stalled_acks:
                    tally.stop = "stalled"
                    break
    tally.seconds = round(time.monotonic() - started, 3)
    if metas:
        metas.close()
    tally.data_mdb_size = size
    await asyncio.sleep(0.5)  # events still in flight to the subscriber
    for name in names:
        joined[name].result().leave()
    await asyncio.sleep(0.3)
    return tally


def main() -> None:
    tally: dict[str, Any] = asdict(asyncio.run(_run(_parse())))
    print(json.dumps(tally), flush=True)
    sys.exit(0)


if __name__ == "__main__":
    main()
