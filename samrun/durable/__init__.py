"""Lambda durable functions: checkpointed executions, waits, callbacks and their API.

`engine` applies checkpoints to an execution's record (Lambda's rules, its history events),
`store` keeps each record in the state folder, `service` drives executions (invokes, timers,
callbacks, restart), `api` serves the durable operations of the Lambda API.
"""
