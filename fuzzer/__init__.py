"""The fuzzing engine, in layers: core (records, TVM adapter, runtime), tir (TIR analysis), execution
(executor, fork server, pipeline, coverage), campaign (the loop and its state), baselines (other fuzzers)."""
