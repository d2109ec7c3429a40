"""Per-request features, shared by the batch hunt and the online gateway."""

from hydrawatch.features.request import INTENTS, RequestFeatures, TextFeatures, describe, describe_texts

__all__ = ["INTENTS", "RequestFeatures", "TextFeatures", "describe", "describe_texts"]
