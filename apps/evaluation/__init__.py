"""Metrics, one module per family (rouge, mt, ner, pandas, tools, rag): pure functions."""
