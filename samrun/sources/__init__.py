"""Event sources: pollers of queues and streams (event source mappings) and push triggers
(buckets, topics, buses, schedules), realised by the orchestrator; they call `invoke/` only."""
