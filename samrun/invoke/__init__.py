"""The invoke path, with no HTTP in it: resolve, (concurrency), pool, result."""
