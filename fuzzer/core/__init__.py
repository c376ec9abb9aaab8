"""The core every layer may import: case and result records, targets, passes, inputs, the TVM adapter."""
