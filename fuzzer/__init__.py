"""fuzzer"""
