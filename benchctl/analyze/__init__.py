"""From the tidy table to verdicts: per-metric comparisons (result, series,
compare), claims and verdicts (claims, judge), design checks (checks), the
`benchctl plan` boots x iterations design (design); statistics in analyze/stats/, reports and
figures in analyze/report/.
"""
