"""A Python program 60 calls deep, as interpreters run recursive code:
every call goes through a builtin (map, then sum), so each Python level is
a C recursion of CPython's eval loop (~5 native frames, ~1 KiB of stack).

  python3 deep.py SECONDS [DEPTH]

Prints "deep.py ready", then spends its time in leaf() at the bottom.
"""
import random
import sys
import time


def leaf():
    # Of irregular length: a fixed round aliases with the sampling rate.
    x = 0
    for i in range(random.randint(10000, 30000)):
        x += i * i
    return x


def level(n):
    if n == 0:
        return leaf()
    return sum(map(level, (n - 1,))) + 1


def main():
    deadline = time.monotonic() + float(sys.argv[1])
    depth = int(sys.argv[2]) if len(sys.argv) > 2 else 60
    print("deep.py ready", flush=True)
    while time.monotonic() < deadline:
        level(depth - 1)


main()
