"""The feedback loop: decisions, closed tickets, agreement, retraining, tuning and insights."""
