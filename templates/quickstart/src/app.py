"""The quickstart function: greets whoever is named in the path or the event."""

import json
import os


def handler(event, context):
    name = (event.get("pathParameters") or {}).get("name") or event.get("name", "world")
    message = f"{os.environ['GREETING']}, {name}!"
    print(f"greeting {name} from {context.function_name}")
    return {"statusCode": 200, "body": json.dumps({"message": message})}
