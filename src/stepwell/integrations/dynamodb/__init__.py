"""An embedded DynamoDB-like table engine, so workflows that use DynamoDB need nothing else.

Requests and responses are DynamoDB's JSON API shapes (what a Step Functions task passes and
receives); errors are ``DynamoDBError`` with AWS's exception names. See ``engine.py``.
"""

from stepwell.integrations.dynamodb.engine import OPERATIONS, TableEngine
from stepwell.integrations.dynamodb.errors import DynamoDBError
from stepwell.integrations.dynamodb.storage import ItemStore, MemoryItemStore

__all__ = ["OPERATIONS", "DynamoDBError", "ItemStore", "MemoryItemStore", "TableEngine"]
