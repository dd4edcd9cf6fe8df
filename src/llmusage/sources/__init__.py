"""The operational databases llmusage reads, in two flavours, mapped to one normalized model.

`detect` tells the flavour of a connected database; each flavour's mapping lives in one place
(`sql/sources/<flavour>/` and the modules of this package), and everything downstream (extract,
reconcile, reports, Dagster) reads only the normalized model.
"""
