"""Evaluation: AlpacaEval-compatible formats and metrics, and verifiable-instruction checks."""
