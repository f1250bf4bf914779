"""Test support shipped with the connectors: fault injection for fake sources
(:mod:`connectors.testing.faults`) and the conformance kit every connector passes
(:mod:`connectors.testing.conformance`)."""
