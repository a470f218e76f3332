"""Local CloudWatch alarms: the program's `MetricAlarm`s evaluated on what the cloud observes.

Definitions, the metrics they read, the decision rule, and the evaluator that publishes changes.
"""
