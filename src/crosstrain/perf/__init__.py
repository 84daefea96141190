"""Performance of the execution modes: eager vs compiled, fp32 vs mixed precision."""
