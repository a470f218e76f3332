"""Local Logs Insights: the program's saved query definitions run over the functions' log files.

The subset of the query language they use (filter, fields, stats, sort, limit); the rest refused.
"""
