"""arm64 facts behind the fingerprint's verdict: MIDR allow-list (midr), what the
kernel should have done (expected), how the linear map is observed (ptdump,
directmap) and how a byte census becomes a state (linearmap).
"""
