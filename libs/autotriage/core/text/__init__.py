"""Ticket text shared by every classifier: cleaning, PII redaction, token counting, the prepared ticket."""
