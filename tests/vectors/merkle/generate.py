#!/usr/bin/env python3
"""Writes merkle.json: Cairn's Merkle test vectors, computed independently of
the Rust code from RFC 9162's definitions (section 2.1.1 for the tree hash,
2.1.3.1 for the inclusion path). Run it from anywhere; it needs only Python 3.

Leaf data are credential digests; here the digest of leaf i of a vector is
SHA-256 of the ASCII text "cairn-vector-<i>".
"""
import hashlib
import json
import os


def sha256(data):
    return hashlib.sha256(data).digest()


def leaf(digest):
    return sha256(b"\x00" + digest)


def node(left, right):
    return sha256(b"\x01" + left + right)


def largest_power_of_two_below(n):
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(digests):
    if len(digests) == 1:
        return leaf(digests[0])
    k = largest_power_of_two_below(len(digests))
    return node(mth(digests[:k]), mth(digests[k:]))


def path(m, digests):
    """RFC 9162 PATH(m, D[n]): siblings from the leaf up."""
    n = len(digests)
    if n == 1:
        return []
    k = largest_power_of_two_below(n)
    if m < k:
        return path(m, digests[:k]) + [mth(digests[k:])]
    return path(m - k, digests[k:]) + [mth(digests[:k])]


def main():
    vectors = []
    for n in [1, 2, 3, 4, 5, 7, 8, 13]:
        digests = [sha256(b"cairn-vector-%d" % i) for i in range(n)]
        vectors.append({
            "leafCount": n,
            "digests": [d.hex() for d in digests],
            "root": mth(digests).hex(),
            "proofs": [
                {"leafIndex": m, "leafCount": n, "path": [h.hex() for h in path(m, digests)]}
                for m in range(n)
            ],
        })
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "merkle.json")
    with open(out, "w") as f:
        json.dump({"description": __doc__.strip().splitlines()[0], "vectors": vectors}, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()
