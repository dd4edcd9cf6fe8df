"""The ingest proxy: an OpenAI-compatible gateway that enforces budgets and writes every spend log once.

Modules: `app` (routes and the request pipeline), `auth` (key lookup through a short cache), `policy`
(refusals, budgets and in-flight reservations), `pricing` (the model catalog and costs), `upstream`
(the provider client), `spool` (the durable local log spool), `writer` (batched, idempotent spend writes),
`management` (the master-key API), `errors` (OpenAI-shaped errors) and `options` (tunables).
"""
