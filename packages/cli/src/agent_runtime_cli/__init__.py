"""The `agent-runtime` command: dev stack launcher, api, worker, migrate."""
