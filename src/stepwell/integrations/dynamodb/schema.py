"""A table's definition: its key schema, how keys are checked and encoded, its description.

``TableSchema`` is immutable; enabling TTL makes a new one. It is built from a CreateTable
request (checked as AWS checks it: API Reference, "CreateTable"; Developer Guide,
"Supported data types and naming rules" for key sizes), persisted through the store as
``metadata()`` and rendered as the API's ``TableDescription``.

Keys are encoded for the store as ``"<type>:<canonical value>"`` (``"S:abc"``, ``"N:1.5"``);
canonical values make the encoding unique, so equal keys always meet in the store.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Final

from stepwell.integrations.dynamodb.errors import invalid_parameters, validation
from stepwell.integrations.dynamodb.requests import Request
from stepwell.integrations.dynamodb.values import AttributeValue, Item, sort_key, type_of

KEY_TYPES: Final = ("B", "N", "S")
MAX_PARTITION_KEY_BYTES: Final = 2048
MAX_SORT_KEY_BYTES: Final = 1024
KEY_MISMATCH: Final = "The provided key element does not match the schema"
_TABLE_IDS: Final = uuid.UUID("5f0c3c43-6f3e-4f0c-9a43-2d1c1b5e7a10")


@dataclass(frozen=True, slots=True)
class KeyElement:
    name: str
    type: str


@dataclass(frozen=True, slots=True)
class TableSchema:
    name: str
    partition_key: KeyElement
    sort_key: KeyElement | None
    attribute_definitions: tuple[KeyElement, ...]
    billing_mode: str
    read_capacity: int
    write_capacity: int
    created: float
    arn: str
    deletion_protection: bool = False
    ttl_attribute: str | None = None

    @property
    def keys(self) -> tuple[KeyElement, ...]:
        return (
            (self.partition_key,) if self.sort_key is None else (self.partition_key, self.sort_key)
        )

    @property
    def key_names(self) -> tuple[str, ...]:
        return tuple(key.name for key in self.keys)

    @property
    def table_id(self) -> str:
        return str(uuid.uuid5(_TABLE_IDS, f"{self.arn}@{self.created}"))

    def with_ttl(self, attribute: str | None) -> TableSchema:
        return replace(self, ttl_attribute=attribute)

    # --- keys -----------------------------------------------------------------------------

    def check_item_keys(self, item: Item) -> None:
        """An item to write must carry every key attribute, of the declared type."""
        for key in self.keys:
            value = item.get(key.name)
            if value is None:
                raise invalid_parameters(f"Missing the key {key.name} in the item")
            if type_of(value) != key.type:
                raise invalid_parameters(
                    f"Type mismatch for key {key.name} expected: {key.type} "
                    f"actual: {type_of(value)}"
                )
            self._check_key_value(key, value)

    def check_key(self, key: Item, mismatch: str = KEY_MISMATCH) -> None:
        """A ``Key`` parameter must name exactly the key attributes, with their types."""
        if set(key) != set(self.key_names):
            raise validation(mismatch)
        for element in self.keys:
            if type_of(key[element.name]) != element.type:
                raise validation(mismatch)
            self._check_key_value(element, key[element.name])

    def _check_key_value(self, key: KeyElement, value: AttributeValue) -> None:
        if value[key.type] == "":
            kind = "string" if key.type == "S" else "binary"
            raise validation(
                "One or more parameter values are not valid. The AttributeValue for a key "
                f"attribute cannot contain an empty {kind} value. Key: {key.name}"
            )
        size = _key_size(value)
        if key is self.partition_key and size > MAX_PARTITION_KEY_BYTES:
            raise invalid_parameters(
                "Size of hashkey has exceeded the maximum size limit of"
                f"{MAX_PARTITION_KEY_BYTES} bytes"
            )
        if key is self.sort_key and size > MAX_SORT_KEY_BYTES:
            raise invalid_parameters(
                "Aggregated size of all range keys has exceeded the size limit of "
                f"{MAX_SORT_KEY_BYTES} bytes"
            )

    def key_of(self, item: Item) -> Item:
        """Just the key attributes of an item."""
        return {name: item[name] for name in self.key_names}

    def tokens(self, item: Item) -> tuple[str, str]:
        """The store's (partition, sort) strings for an item or key."""
        sort = "" if self.sort_key is None else key_token(item[self.sort_key.name])
        return key_token(item[self.partition_key.name]), sort

    def order(self, item: Item) -> tuple[str, Any]:
        """Scan order: by encoded partition key, then by sort key value."""
        sort = None if self.sort_key is None else sort_key(item[self.sort_key.name])
        return key_token(item[self.partition_key.name]), sort

    # --- persistence and description ------------------------------------------------------

    def metadata(self) -> dict[str, Any]:
        return {
            "TableName": self.name,
            "KeySchema": self._key_schema(),
            "AttributeDefinitions": self._definitions(),
            "BillingMode": self.billing_mode,
            "ReadCapacityUnits": self.read_capacity,
            "WriteCapacityUnits": self.write_capacity,
            "CreationDateTime": self.created,
            "TableArn": self.arn,
            "DeletionProtectionEnabled": self.deletion_protection,
            "TimeToLiveAttribute": self.ttl_attribute,
        }

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, Any]) -> TableSchema:
        definitions = {
            d["AttributeName"]: d["AttributeType"] for d in metadata["AttributeDefinitions"]
        }
        keys = [
            KeyElement(k["AttributeName"], definitions[k["AttributeName"]])
            for k in metadata["KeySchema"]
        ]
        return cls(
            name=metadata["TableName"],
            partition_key=keys[0],
            sort_key=keys[1] if len(keys) > 1 else None,
            attribute_definitions=tuple(KeyElement(n, t) for n, t in definitions.items()),
            billing_mode=metadata["BillingMode"],
            read_capacity=metadata["ReadCapacityUnits"],
            write_capacity=metadata["WriteCapacityUnits"],
            created=metadata["CreationDateTime"],
            arn=metadata["TableArn"],
            deletion_protection=metadata["DeletionProtectionEnabled"],
            ttl_attribute=metadata["TimeToLiveAttribute"],
        )

    def description(
        self, item_count: int, size_bytes: int, status: str = "ACTIVE"
    ) -> dict[str, Any]:
        """The API's ``TableDescription`` (API Reference, "TableDescription")."""
        description: dict[str, Any] = {
            "AttributeDefinitions": self._definitions(),
            "TableName": self.name,
            "KeySchema": self._key_schema(),
            "TableStatus": status,
            "CreationDateTime": self.created,
            "ProvisionedThroughput": {
                "NumberOfDecreasesToday": 0,
                "ReadCapacityUnits": self.read_capacity,
                "WriteCapacityUnits": self.write_capacity,
            },
            "TableSizeBytes": size_bytes,
            "ItemCount": item_count,
            "TableArn": self.arn,
            "TableId": self.table_id,
            "DeletionProtectionEnabled": self.deletion_protection,
        }
        if self.billing_mode == "PAY_PER_REQUEST":
            description["BillingModeSummary"] = {
                "BillingMode": "PAY_PER_REQUEST",
                "LastUpdateToPayPerRequestDateTime": self.created,
            }
        return description

    def _key_schema(self) -> list[dict[str, str]]:
        roles = ("HASH", "RANGE")
        return [
            {"AttributeName": k.name, "KeyType": role}
            for k, role in zip(self.keys, roles, strict=False)
        ]

    def _definitions(self) -> list[dict[str, str]]:
        return [
            {"AttributeName": d.name, "AttributeType": d.type} for d in self.attribute_definitions
        ]


def key_token(value: AttributeValue) -> str:
    kind = type_of(value)
    return f"{kind}:{value[kind]}"


def _key_size(value: AttributeValue) -> int:
    if "B" in value:
        return len(base64.b64decode(value["B"]))
    text: str = next(iter(value.values()))
    return len(text.encode())


# --- CreateTable --------------------------------------------------------------------------


def schema_from_request(request: Request, created: float, region: str, account: str) -> TableSchema:
    """The schema a CreateTable request declares, or AWS's validation error for it."""
    name = request.table_name()
    key_schema = request.array("KeySchema")
    definitions = request.array("AttributeDefinitions")
    billing = request.enum("BillingMode", ("PROVISIONED", "PAY_PER_REQUEST"), "PROVISIONED")
    throughput = request.mapping("ProvisionedThroughput")
    protection = request.boolean("DeletionProtectionEnabled")
    if key_schema is not None and not 1 <= len(key_schema) <= 2:
        request.violated("KeySchema", key_schema, _count_constraint(key_schema, 1, 2))
    request.check()
    for index in ("LocalSecondaryIndexes", "GlobalSecondaryIndexes"):
        if request.parameters.get(index):
            raise validation(f"{index} are not supported by Stepwell's embedded DynamoDB")
    assert key_schema is not None and definitions is not None
    types = _attribute_types(definitions)
    keys = _key_elements(key_schema, types)
    units = capacity(billing or "PROVISIONED", throughput)
    return TableSchema(
        name=name,
        partition_key=keys[0],
        sort_key=keys[1] if len(keys) > 1 else None,
        attribute_definitions=tuple(KeyElement(n, t) for n, t in types.items()),
        billing_mode=billing or "PROVISIONED",
        read_capacity=units[0],
        write_capacity=units[1],
        created=created,
        arn=f"arn:aws:dynamodb:{region}:{account}:table/{name}",
        deletion_protection=protection,
    )


def _count_constraint(members: list[Any], low: int, high: int) -> str:
    if len(members) < low:
        return f"Member must have length greater than or equal to {low}"
    return f"Member must have length less than or equal to {high}"


def _attribute_types(definitions: list[Any]) -> dict[str, str]:
    types: dict[str, str] = {}
    for position, definition in enumerate(definitions, start=1):
        member = Request(definition, f"attributeDefinitions.{position}.member.")
        name = member.string("AttributeName", required=True)
        kind = member.enum("AttributeType", KEY_TYPES)
        if kind is None:
            member.violated("AttributeType", None, "Member must not be null")
        member.check()
        assert name is not None and kind is not None
        types[name] = kind
    return types


def _key_elements(key_schema: list[Any], types: dict[str, str]) -> list[KeyElement]:
    roles: list[tuple[str, str]] = []
    for position, element in enumerate(key_schema, start=1):
        member = Request(element, f"keySchema.{position}.member.")
        name = member.string("AttributeName", required=True)
        role = member.enum("KeyType", ("HASH", "RANGE"))
        if role is None:
            member.violated("KeyType", None, "Member must not be null")
        member.check()
        assert name is not None and role is not None
        roles.append((name, role))
    if roles[0][1] != "HASH":
        raise validation("Invalid KeySchema: The first KeySchemaElement is not a HASH key type")
    if len(roles) == 2 and roles[1][1] != "RANGE":
        raise validation("Invalid KeySchema: The second KeySchemaElement is not a RANGE key type")
    if len(roles) == 2 and roles[0][0] == roles[1][0]:
        raise validation(
            "Both the Hash Key and the Range Key element in the KeySchema have the same name"
        )
    names = [name for name, _ in roles]
    missing = [name for name in names if name not in types]
    if missing:
        raise invalid_parameters(
            "Some index key attributes are not defined in AttributeDefinitions. "
            f"Keys: [{', '.join(missing)}], AttributeDefinitions: [{', '.join(types)}]"
        )
    if len(types) != len(names):
        raise invalid_parameters(
            "Number of attributes in KeySchema does not exactly match number of attributes "
            "defined in AttributeDefinitions"
        )
    return [KeyElement(name, types[name]) for name in names]


def capacity(billing: str, throughput: Mapping[str, Any] | None) -> tuple[int, int]:
    if billing == "PAY_PER_REQUEST":
        if throughput is not None:
            raise invalid_parameters(
                "Neither ReadCapacityUnits nor WriteCapacityUnits can be specified when "
                "BillingMode is PAY_PER_REQUEST"
            )
        return 0, 0
    if throughput is None:
        raise invalid_parameters(
            "ReadCapacityUnits and WriteCapacityUnits must both be specified when "
            "BillingMode is PROVISIONED"
        )
    member = Request(throughput, "provisionedThroughput.")
    read = member.integer("ReadCapacityUnits", 1)
    write = member.integer("WriteCapacityUnits", 1)
    for field, value in (("ReadCapacityUnits", read), ("WriteCapacityUnits", write)):
        if value is None:
            member.violated(field, None, "Member must not be null")
    member.check()
    assert read is not None and write is not None
    return read, write
