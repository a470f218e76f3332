"""Local CloudWatch metrics: what the cloud observes, aggregated per second, put into moto.

Statistic cells and percentiles, the observers that record, the flusher, and the dashboard data.
"""
