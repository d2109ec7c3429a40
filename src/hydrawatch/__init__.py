"""hydrawatch: detect, attribute, act on and prove LLM distillation campaigns."""

__version__ = "0.1.0"
