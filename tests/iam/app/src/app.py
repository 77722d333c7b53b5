"""Functions of the --enforce-iam tests: each reports what its own boto3 calls got."""

import json
import os

import boto3
from botocore.exceptions import ClientError


def _try(call):
    try:
        call()
        return "ok"
    except ClientError as error:
        return {
            "code": error.response["Error"]["Code"],
            "message": error.response["Error"]["Message"],
        }


def table(event, context):
    dynamodb = boto3.client("dynamodb")
    name = os.environ["TABLE"]
    key = {"id": {"S": "1"}}
    return {
        "read": _try(lambda: dynamodb.get_item(TableName=name, Key=key)),
        "write": _try(lambda: dynamodb.put_item(TableName=name, Item=key)),
    }


def bucket(event, context):
    s3 = boto3.client("s3")
    return {
        name: _try(lambda name=name: s3.get_object(Bucket=name, Key="report.txt"))
        for name in event["buckets"]
    }


def record(event, context):
    print(json.dumps(event))
    return {"records": len(event.get("Records", []))}


def private(event, context):
    return {"statusCode": 200, "body": "private"}
