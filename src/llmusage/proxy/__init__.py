"""The ingest proxy: an OpenAI-compatible gateway that enforces budgets and writes every spend log once.

A request's stages, in order: `app` (the routes and the wiring of the stages), `admission` (authenticate,
refuse, reserve the estimate), `forwarding` (to the provider: plain calls and streams), `sse` (the stream's
events relayed, its usage picked out), `spend` (the spend row, settled and spooled) and `responses` (request
ids, the headers every response carries, errors as responses). Beside them: `context` (the process's `State`,
one request's `Call`, startup and cleanup), `health` (`/health`, `/health/ready`), `management` (the
master-key API), `httpserver` (the HTTP/1.1 server, httptools), `auth` (key lookup through a short cache),
`dbhealth` (database failures named, logged without flooding, and the lookups' health for readiness),
`preflight` (before listening: the database's flavour, and the proxy's queries planned on it), `policy`
(refusals, budgets and in-flight reservations), `pricing` (the model catalog and costs), `fastclient`
(keep-alive upstream client for plain calls), `upstream` (URLs, headers and the aiohttp session for streams),
`spool` (the durable local log spool), `writer` (batched, idempotent spend writes), `errors` (OpenAI-shaped
errors), `options` (tunables) and `server` (processes and workers). The benchmark is
`llmusage.devtools.proxy_bench`.
"""
