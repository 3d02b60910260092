#!/usr/bin/env python3
"""Writes proof-format.json: vectors for docs/proof-format.md, computed
independently of the Rust code from the document alone. Run it from
anywhere with Python 3, after `npm ci` in the repository root: the registry
calls are encoded by foundry's `cast` from node_modules (Keccak is not in
Python's standard library).

JCS (RFC 8785) is Python's sorted, compact JSON here: the vectors hold only
ASCII strings and small integers, where the two agree.
"""
import hashlib
import json
import os
import subprocess

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..")
CAST = os.path.join(ROOT, "node_modules", "@foundry-rs", "cast-linux-amd64", "bin", "cast")


def cast(*args):
    return subprocess.run([CAST, *args], check=True, capture_output=True, text=True).stdout.strip()


def sha256(data):
    return hashlib.sha256(data).digest()


def jcs(value):
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


ANCHOR = "CairnAnchorProof2026"


def digest(credential):
    """Steps 1 to 4 of "Credential digest"."""
    doc = dict(credential)
    proof = doc.get("proof")
    if isinstance(proof, list):
        kept = [p for p in proof if p.get("type") != ANCHOR]
        if not kept:
            del doc["proof"]
        elif len(kept) == 1:
            doc["proof"] = kept[0]
        else:
            doc["proof"] = kept
    elif isinstance(proof, dict) and proof.get("type") == ANCHOR:
        del doc["proof"]
    return sha256(jcs(doc))


def leaf(d):
    return sha256(b"\x00" + d)


def node(left, right):
    return sha256(b"\x01" + left + right)


issuer_proof = {
    "type": "DataIntegrityProof",
    "cryptosuite": "eddsa-rdfc-2022",
    "verificationMethod": "did:key:z6MkExample#z6MkExample",
    "proofPurpose": "assertionMethod",
    "proofValue": "z3Example",
}
credential = {
    "@context": ["https://www.w3.org/ns/credentials/v2"],
    "id": "urn:uuid:00000000-0000-4000-8000-000000000001",
    "type": ["VerifiableCredential"],
    "issuer": {"id": "did:key:z6MkExample", "type": ["Profile"]},
    "credentialSubject": {"id": "did:example:nurse"},
}
anchor_entry = {"type": ANCHOR, "root": "00" * 32, "leafIndex": 0, "leafCount": 3, "path": []}

# The same credential as issued (one proof object), as a proof set of one,
# and with its anchor entry: one digest.
forms = {
    "as issued": dict(credential, proof=issuer_proof),
    "proof set of one": dict(credential, proof=[issuer_proof]),
    "with its anchor entry": dict(credential, proof=[issuer_proof, anchor_entry]),
}
digests = {name: digest(doc).hex() for name, doc in forms.items()}
assert len(set(digests.values())) == 1

# Three credentials, a tree of three leaves: leaf 2 is carried up.
leaves = [digest(dict(credential, id=f"urn:uuid:00000000-0000-4000-8000-00000000000{i}", proof=issuer_proof)) for i in (1, 2, 3)]
h = [leaf(d) for d in leaves]
root = node(node(h[0], h[1]), h[2])
paths = [[h[1].hex(), h[2].hex()], [h[0].hex(), h[2].hex()], [node(h[0], h[1]).hex()]]
# Leaf 1's first step: its index is odd, so the path entry is the left input.
assert node(node(h[0], h[1]), h[2]) == root

# Status bits: leaf i is bit (i & 255) of word (i >> 8), least significant first.
revoked = [0, 5, 255, 256, 700]
words = [0, 0, 0]
for i in revoked:
    words[i >> 8] |= 1 << (i & 255)

binding = {
    "@context": ["https://www.w3.org/ns/credentials/v2"],
    "name": "Cairn anchoring account",
    "issuer": "did:key:z6MkExample",
    "validFrom": "2026-01-01T00:00:00Z",
    "credentialSubject": {"id": "did:pkh:eip155:1:0x0000000000000000000000000000000000000001"},
    "proof": issuer_proof,
}

# The registry calls of a verification, as `eth_call` data, and an answer
# decoded: anchors(root) -> (issuer, blockNumber, timestamp, leafCount).
calls = {
    "anchors": {
        "signature": "anchors(bytes32)",
        "data": cast("calldata", "anchors(bytes32)", "0x" + root.hex()),
        "answer": cast("abi-encode", "f(address,uint64,uint64,uint256)",
                       "0x00000000000000000000000000000000000000aa", "7", "1767225600", "3"),
        "decoded": {"issuer": "0x00000000000000000000000000000000000000AA", "blockNumber": 7,
                    "timestamp": 1767225600, "leafCount": 3},
    },
    "bindings": {
        "signature": "bindings(bytes32)",
        "data": cast("calldata", "bindings(bytes32)", "0x" + digest(binding).hex()),
    },
    "statusWords": {
        "signature": "statusWords(bytes32,uint256,uint256)",
        "data": cast("calldata", "statusWords(bytes32,uint256,uint256)", "0x" + root.hex(), "0", "1"),
    },
}

out = {
    "calls": calls,
    "description": "Vectors for docs/proof-format.md, from generate.py beside this file",
    "digest": {"forms": forms, "digest": digests["as issued"]},
    "tree": {
        "credentials": [dict(credential, id=f"urn:uuid:00000000-0000-4000-8000-00000000000{i}", proof=issuer_proof) for i in (1, 2, 3)],
        "digests": [d.hex() for d in leaves],
        "leafHashes": [x.hex() for x in h],
        "root": root.hex(),
        "paths": paths,
    },
    "statusWords": {
        "words": ["0x%064x" % w for w in words],
        "set": revoked,
        "clear": [1, 254, 257, 699, 701, 767],
    },
    "binding": {"document": binding, "digest": digest(binding).hex(),
                "digestWithoutProof": sha256(jcs({k: v for k, v in binding.items() if k != "proof"})).hex()},
}
path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "proof-format.json")
with open(path, "w") as f:
    json.dump(out, f, indent=2, sort_keys=True)
    f.write("\n")
