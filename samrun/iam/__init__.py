"""IAM as AWS enforces it for a function (`--enforce-iam`): execution roles and their policies,
the calls they allow, and the resource-based policies that let services invoke a function.

Depends only on `samrun.model` (and botocore, for SigV4), so every layer may use it.
"""
