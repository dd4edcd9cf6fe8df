"""The ingest proxy: an OpenAI-compatible gateway that enforces budgets and writes every spend log once.

Modules: `app` (routes and the request pipeline), `httpserver` (the HTTP/1.1 server, httptools),
`auth` (key lookup through a short cache), `policy` (refusals, budgets and in-flight reservations),
`pricing` (the model catalog and costs), `fastclient` (keep-alive upstream client for plain calls),
`upstream` (URLs, headers and the aiohttp session for streams), `spool` (the durable local log spool),
`writer` (batched, idempotent spend writes), `management` (the master-key API), `errors` (OpenAI-shaped
errors), `options` (tunables), `server` (processes and workers) and `bench` (the benchmark).
"""
