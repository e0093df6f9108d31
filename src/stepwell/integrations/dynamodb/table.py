"""One live table: its schema, its lock, and item access that honours Time to Live.

Expiry. With TTL enabled, an item whose TTL attribute is a Number of epoch seconds earlier
than now — but not five years or more earlier, which DynamoDB ignores as a likely mistake
(Developer Guide, "How it works: DynamoDB Time to Live") — is expired. AWS deletes expired
items in the background, typically within days, and until then they still show in reads.
Stepwell deletes an expired item the moment any operation touches it, which is one of the
outcomes AWS allows and the predictable one: an idempotency record past its TTL stops
blocking a conditional put right away. ``purge_expired`` sweeps a whole table. "Now"
comes from the engine's clock; this module never reads the time itself.
"""

from __future__ import annotations

import threading
from decimal import Decimal
from typing import Final

from stepwell.integrations.dynamodb.errors import table_not_found
from stepwell.integrations.dynamodb.schema import TableSchema
from stepwell.integrations.dynamodb.storage import ItemStore
from stepwell.integrations.dynamodb.values import Item, item_size, sort_key

TTL_HORIZON_SECONDS: Final = Decimal(5 * 365 * 24 * 60 * 60)


class Table:
    def __init__(self, schema: TableSchema, store: ItemStore) -> None:
        self.schema = schema
        self.store = store
        self.lock = threading.RLock()
        self.deleted = False

    @property
    def name(self) -> str:
        return self.schema.name

    def is_expired(self, item: Item, now: Decimal) -> bool:
        attribute = self.schema.ttl_attribute
        value = item.get(attribute) if attribute is not None else None
        if value is None or "N" not in value:
            return False
        expiry = Decimal(value["N"])
        return now - TTL_HORIZON_SECONDS < expiry < now

    def check_live(self) -> None:
        """Refuse access once DeleteTable has run (a request may have looked the table up
        just before); callers hold ``lock``, which DeleteTable also takes."""
        if self.deleted:
            raise table_not_found()

    def get(self, key: Item, now: Decimal) -> Item | None:
        self.check_live()
        partition, sort = self.schema.tokens(key)
        item = self.store.get(self.name, partition, sort)
        if item is not None and self.is_expired(item, now):
            self.store.delete(self.name, partition, sort)
            return None
        return item

    def put(self, item: Item) -> None:
        self.check_live()
        partition, sort = self.schema.tokens(item)
        self.store.put(self.name, partition, sort, item)

    def delete(self, key: Item) -> None:
        self.check_live()
        partition, sort = self.schema.tokens(key)
        self.store.delete(self.name, partition, sort)

    def partition(self, partition: str, now: Decimal) -> list[Item]:
        """A partition's live items in sort-key order."""
        self.check_live()
        items = self._live(self.store.partition(self.name, partition), now)
        sort = self.schema.sort_key
        if sort is not None:
            items.sort(key=lambda item: sort_key(item[sort.name]))
        return items

    def scan(self, now: Decimal) -> list[Item]:
        """All live items in a stable order (partition key, then sort key)."""
        self.check_live()
        return sorted(self._live(self.store.scan(self.name), now), key=self.schema.order)

    def purge_expired(self, now: Decimal) -> int:
        return len(self.store.scan(self.name)) - len(self.scan(now))

    def statistics(self, now: Decimal) -> tuple[int, int]:
        """Item count and total size in bytes, for DescribeTable."""
        items = self.scan(now)
        return len(items), sum(item_size(item) for item in items)

    def _live(self, items: list[Item], now: Decimal) -> list[Item]:
        live = []
        for item in items:
            if self.is_expired(item, now):
                self.delete(item)
            else:
                live.append(item)
        return live
