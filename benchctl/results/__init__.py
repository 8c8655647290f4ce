"""Run folders and the tidy table: the store (store, fsutil), hand-made runs
(importer), the metric catalogue (metrics) and loading folders or CSV into
one table (table, loader).
"""
