"""Other fuzzers' strategies on tirfuzz's executor, for coverage comparison: random generation, atheris."""
