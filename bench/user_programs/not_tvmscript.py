"""Not TVMScript: a plain Python script that prints the primes below 50."""


def primes(limit):
    found = []
    for n in range(2, limit):
        if all(n % p for p in found):
            found.append(n)
    return found


if __name__ == "__main__":
    print(primes(50))
