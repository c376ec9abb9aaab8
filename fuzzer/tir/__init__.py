"""TIR analysis and construction: tree walking, expression and program generation, safety proofs, reductions."""
