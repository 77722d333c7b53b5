"""Opens a TCP connection to the address in the event (no socket timeout: a dropped SYN hangs
until the function's own timeout, as in a VPC without NAT) and says what it reached."""

import os
import socket
from urllib.parse import urlsplit


def handler(event, context):
    if event.get("target") == "aws":
        url = urlsplit(os.environ["AWS_ENDPOINT_URL"])
        host, port = url.hostname, url.port
    else:
        host, port = event["host"], int(event["port"])
    with socket.create_connection((host, port)) as conn:
        conn.sendall(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n")
        first = conn.recv(64)
    return {"reached": f"{host}:{port}", "first": first.decode("latin-1")}
