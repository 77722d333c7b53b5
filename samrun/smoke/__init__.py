"""`samrun smoke`: a CI smoke deploy of an app (runner), its checks file (checks), the steps
that run them (steps), and what is printed and written for CI (report)."""

from samrun.smoke.runner import run_smoke

__all__ = ["run_smoke"]
