"""Detection logic over plain per-account aggregates, shared by the batch hunt and the gateway."""
