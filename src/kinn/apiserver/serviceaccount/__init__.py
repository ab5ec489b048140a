"""Service-account tokens (upstream pkg/serviceaccount): JWTs the API server signs for a
ServiceAccount, optionally bound to a Pod, Secret or Node, and authenticates when they come back.

`jws` is the RS256 compact encoding, `claims` what a token says and how it is checked against the
objects it names, `jwt` the generator and authenticator holding the keys.
"""
