"""samrun: run AWS SAM and CloudFormation Lambda applications locally, with Lambda's semantics."""

from samrun.config import Config
from samrun.errors import SamrunError
from samrun.model import AppGraph

__all__ = ["AppGraph", "Config", "SamrunError"]
__version__ = "0.1.0"
