"""The AWS endpoint the app talks to (embedded moto, any URL, or real AWS) and what samrun
creates in it."""
