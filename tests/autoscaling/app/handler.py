import time


def handler(event, context):
    time.sleep(float(event.get("sleep", 0.25)))
    return {"ok": True}
