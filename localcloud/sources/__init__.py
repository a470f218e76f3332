"""Event source mappings: SQS queues and DynamoDB streams polled into functions like Lambda does.

`base` is what every poller shares, `sqs` and `streams` the two kinds, `mappings` builds them.
"""
