"""The dashboard: a web page served by ``hub dashboard`` showing the open tasks by
rule, severity, owner and age, the overdue ones, dead letters, lag and connector
health, and each task with its evidence.

:mod:`hub.dashboard.state` is the pure part (tasks in, summaries and lists out),
:mod:`hub.dashboard.feed` reads Kafka, :mod:`hub.dashboard.server` serves the page.
"""
