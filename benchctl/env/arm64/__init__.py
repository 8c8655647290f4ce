"""arm64 facts behind the fingerprint's verdict: the MIDR allow-list of each release
(midr), what the kernel should have done (expected), how the linear map is observed
(ptdump; kcore, a page-table walk through /proc/kcore; directmap) and how a byte
census becomes a state (linearmap).
"""
