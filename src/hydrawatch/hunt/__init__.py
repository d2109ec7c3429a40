"""The batch hunt: exchange logs in, campaigns and account verdicts with reasons out."""
