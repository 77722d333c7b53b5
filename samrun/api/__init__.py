"""The Lambda control-plane API (Invoke, ListFunctions, GetFunction...) over HTTP."""
