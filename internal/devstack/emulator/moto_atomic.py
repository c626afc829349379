# Starts moto's server (python -c <this> -H host -p port) with DynamoDB's writes made atomic.
#
# DynamoDB applies a conditional write atomically: of two concurrent UpdateItems conditioned on
# the same old value, one wins and the other gets ConditionalCheckFailedException. The outbox's
# claim and the workers' idempotency records rely on that. moto's DynamoDB backend checks the
# condition and then writes, with no lock, and its server is threaded, so both can win (seen as
# an order published twice by two relay tasks). One lock around each write keeps DynamoDB's
# guarantee; moto's writes take microseconds, so nothing else changes.
import functools
import sys
import threading

from moto.dynamodb.models import DynamoDBBackend
from moto.server import main

_lock = threading.RLock()


def _atomic(method):
    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        with _lock:
            return method(*args, **kwargs)

    return wrapper


for _name in ("put_item", "update_item", "delete_item", "transact_write_items"):
    setattr(DynamoDBBackend, _name, _atomic(getattr(DynamoDBBackend, _name)))

main(sys.argv[1:])
