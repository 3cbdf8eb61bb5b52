"""The local model: TF-IDF + linear classifier per tenant, trained from its categorized history.

``dataset`` (labelled tickets, split, hash) -> ``text`` (cleaning, redaction) -> ``estimator`` (vectorizers,
classifier, top-1 calibrator, neighbours) -> ``training`` (measure, threshold, refit) -> ``store`` (versioned
file) -> ``provider`` (``LocalClassifier``) and ``cascade`` (local + LLM). ``evaluation`` holds the metrics.
"""
