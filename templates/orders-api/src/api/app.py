"""REST handler: POST /orders stores and queues an order; GET /orders/{id} reads one back."""

import json
import os
import uuid

import boto3

_table = boto3.resource("dynamodb").Table(os.environ["TABLE_NAME"])
_sqs = boto3.client("sqs")


def _response(status, body):
    return {"statusCode": status, "headers": {"content-type": "application/json"},
            "body": json.dumps(body)}


def handler(event, context):
    if event["httpMethod"] == "POST":
        order = json.loads(event.get("body") or "{}")
        order["id"] = str(uuid.uuid4())
        order["status"] = "new"
        _table.put_item(Item=order)
        _sqs.send_message(QueueUrl=os.environ["QUEUE_URL"], MessageBody=json.dumps(order))
        return _response(201, order)
    order_id = event["pathParameters"]["id"]
    item = _table.get_item(Key={"id": order_id}).get("Item")
    if item is None:
        return _response(404, {"message": f"order {order_id} not found"})
    return _response(200, item)
