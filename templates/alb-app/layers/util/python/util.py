"""Shared helpers, shipped as a layer (/opt/python on the function's path)."""


def status() -> str:
    return "healthy"
