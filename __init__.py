"""tirfuzz: a coverage-guided fuzzer and differential tester for Apache TVM's TIR."""

__version__ = "0.1.0"
