"""Private WebSocket channels: each account's orders, fills and balances, published from the
live view's changes (on the event loop thread, with the batch that made them).

A message is built only for a channel someone listens to, and once for all its listeners.
Channel names: `private.{account_id}.orders|fills|balances` (the WebSocket layer maps the
client's `orders`, `fills`, `balances` to its own account's names after `auth`).
"""

from __future__ import annotations

from typing import Any

import msgspec

from venue.gateway.render import balance_json, fill_json, order_json
from venue.marketdata.hub import Hub
from venue.views.orders import Changes

_encode = msgspec.json.Encoder().encode


class PrivateFeed:
    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.live: Any = None  # the LiveView, set once both exist (they refer to each other)

    def publish(self, seq: int, changes: Changes) -> None:
        hub = self.hub
        live = self.live
        if live is None or hub.channel_count() == 0:
            return
        for record in changes.orders:
            channel = f"private.{record.account_id}.orders"
            if hub.has_subscribers(channel):
                body = order_json(record, live.units[record.symbol])
                hub.publish(channel, _encode({"channel": "orders", "seq": seq, "order": body}))
        for fill in changes.fills:
            channel = f"private.{fill.account_id}.fills"
            if hub.has_subscribers(channel):
                body = fill_json(fill, live.units[fill.symbol])
                hub.publish(channel, _encode({"channel": "fills", "seq": seq, "fill": body}))
        for balance in changes.balances:
            channel = f"private.{balance.account_id}.balances"
            if hub.has_subscribers(channel):
                body = balance_json(balance, live.asset_decimals.get(balance.asset, 0))
                hub.publish(channel, _encode({"channel": "balances", "seq": seq, "balance": body}))
