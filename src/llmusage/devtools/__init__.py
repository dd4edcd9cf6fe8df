"""Tools for demos, tests and benchmarks, apart from what the gateway and the pipeline need: synthetic
traffic (`seed`), the mock provider (`mock_upstream`), loopback servers (`loopback`), throwaway databases
(`scratch_db`), the soak (`soak`) and the proxy benchmark (`proxy_bench`). `llmusage seed` and
`llmusage mock-upstream` call into them."""
