#!/usr/bin/env python3
"""A second verifier of the anchor side of Cairn credentials, written from
docs/proof-format.md alone (no Cairn code): inclusion, the binding (its
registry, account and registration; not its Data Integrity signature, which
any VC verifier checks), the anchor (record, block, transaction, depth) and
revocation, over Ethereum JSON-RPC with Python's standard library. Function
selectors and the event topic come from foundry's `cast` (Keccak is not in
Python's standard library).

    verify_anchor.py --rpc-url URL [--confirmations N] FILE...

Prints one JSON line per file: {"file", "verdict", "why"}, with verdict
valid, invalid or unknown, as the document's table defines them.
"""
import argparse
import hashlib
import json
import os
import subprocess
import urllib.request
from datetime import datetime

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
CAST = os.path.join(ROOT, "node_modules", "@foundry-rs", "cast-linux-amd64", "bin", "cast")
ANCHOR = "CairnAnchorProof2026"


def cast(*args):
    return subprocess.run([CAST, *args], check=True, capture_output=True, text=True).stdout.strip()


SEL = {name: cast("sig", sig)[2:] for name, sig in {
    "anchors": "anchors(bytes32)",
    "bindings": "bindings(bytes32)",
    "statusWords": "statusWords(bytes32,uint256,uint256)",
}.items()}
ANCHORED = cast("keccak", "Anchored(bytes32,address,uint256)")


class Invalid(Exception):
    pass


class Unknown(Exception):
    pass


def sha256(b):
    return hashlib.sha256(b).digest()


def jcs(v):
    # The credentials checked here hold ASCII strings and integers only,
    # where sorted compact JSON is RFC 8785.
    return json.dumps(v, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def digest(doc):
    doc = dict(doc)
    proof = doc.get("proof")
    proofs = proof if isinstance(proof, list) else ([proof] if isinstance(proof, dict) else None)
    if proofs is not None:
        kept = [p for p in proofs if p.get("type") != ANCHOR]
        if not kept:
            doc.pop("proof")
        else:
            doc["proof"] = kept[0] if len(kept) == 1 else kept
    return sha256(jcs(doc))


def unhex(s):
    return bytes.fromhex(s[2:] if s.startswith("0x") else s)


def root_of(leaf_digest, index, count, path):
    if index >= count:
        raise Invalid("leafIndex outside the batch")
    node = sha256(b"\x00" + leaf_digest)
    path = [unhex(p) for p in path]
    while count > 1:
        if index ^ 1 < count:
            if not path:
                raise Invalid("path too short")
            entry = path.pop(0)
            node = sha256(b"\x01" + (entry + node if index & 1 else node + entry))
        index, count = index >> 1, (count + 1) >> 1
    if path:
        raise Invalid("path too long")
    return node


class Chain:
    def __init__(self, url):
        self.url = url

    def rpc(self, method, params):
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).encode()
        req = urllib.request.Request(self.url, body, {"content-type": "application/json"})
        try:
            reply = json.load(urllib.request.urlopen(req, timeout=30))
        except OSError as e:
            raise Unknown(f"chain node: {e}")
        if "error" in reply:
            raise Unknown(f"chain node: {reply['error']}")
        return reply["result"]

    def call(self, registry, selector, *words):
        data = "0x" + selector + "".join(words)
        out = self.rpc("eth_call", [{"to": registry, "data": data}, "latest"])
        return bytes.fromhex(out[2:])


def word(n):
    return "%064x" % n


def check(doc, chain, confirmations):
    if not isinstance(doc, dict):
        raise Invalid("not a JSON object")
    proofs = doc.get("proof")
    proofs = proofs if isinstance(proofs, list) else [proofs]
    entries = [p for p in proofs if isinstance(p, dict) and p.get("type") == ANCHOR]
    if not entries:
        raise Unknown("no anchor proof")
    if len(entries) > 1:
        raise Invalid("two anchor proofs")
    e = entries[0]
    root = unhex(e["root"])
    if root_of(digest(doc), e["leafIndex"], e["leafCount"], e["path"]) != root:
        raise Invalid("inclusion: the path does not lead to the root")
    chain_id = int(e["chain"].split(":")[1])
    if int(chain.rpc("eth_chainId", []), 16) != chain_id:
        raise Unknown("the chain node serves another chain")
    registry = e["registry"].lower()
    b = e["binding"]
    subject = b["credentialSubject"]
    named = subject.get("anchorRegistry", "")
    if named.lower() != f"eip155:{chain_id}:{registry}":
        raise Invalid(f"binding: names registry {named}, not {e['chain']}:{e['registry']}")
    issuer = doc["issuer"]["id"] if isinstance(doc["issuer"], dict) else doc["issuer"]
    if b["issuer"] != issuer:
        raise Invalid("binding: another issuer")
    pkh = subject["id"].split(":")
    if pkh[:3] != ["did", "pkh", "eip155"] or int(pkh[3]) != chain_id:
        raise Invalid("binding: the account is not on this chain")
    account = pkh[4].lower()
    bound = chain.call(registry, SEL["bindings"], digest(b).hex())
    if "0x" + bound[12:32].hex() != account:
        raise Invalid("binding: not registered by the account it names")
    a = chain.call(registry, SEL["anchors"], root.hex())
    by, block, time, leaves = "0x" + a[12:32].hex(), int.from_bytes(a[32:64], "big"), int.from_bytes(a[64:96], "big"), int.from_bytes(a[96:128], "big")
    if int(by, 16) == 0:
        raise Invalid("anchor: the root was never anchored in this registry")
    if by != account:
        raise Invalid("anchor: by an account the binding does not name")
    if leaves != e["leafCount"]:
        raise Invalid("anchor: another leaf count")
    if block != e["blockNumber"]:
        raise Invalid("anchor: blockNumber is not the anchor's block")
    blk = chain.rpc("eth_getBlockByNumber", [hex(block), False])
    if blk is None or blk["hash"].lower() != e["blockHash"].lower():
        raise Invalid("anchor: blockHash is not the anchor block's hash")
    receipt = chain.rpc("eth_getTransactionReceipt", [e["transaction"]])
    if (receipt is None or int(receipt["status"], 16) != 1
            or receipt["blockHash"].lower() != e["blockHash"].lower()
            or not any(l["address"].lower() == registry and l["topics"][:2] == [ANCHORED, "0x" + root.hex()]
                       for l in receipt["logs"])):
        raise Invalid("anchor: transaction is not the one that anchored the root")
    head = int(chain.rpc("eth_blockNumber", []), 16)
    if head - block + 1 < confirmations:
        raise Unknown("anchor: not deep enough")

    def at(s):
        return datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()
    if at(b["validFrom"]) > time or ("validUntil" in b and time > at(b["validUntil"])):
        raise Invalid("binding: does not cover the anchor's time")
    words = (e["leafCount"] + 255) // 256
    s = chain.call(registry, SEL["statusWords"], root.hex(), word(0), word(words))
    # Two dynamic uint256[]: offsets, then length-prefixed words.
    def array(offset_word):
        off = int.from_bytes(s[offset_word * 32:offset_word * 32 + 32], "big")
        n = int.from_bytes(s[off:off + 32], "big")
        return [int.from_bytes(s[off + 32 + 32 * k:off + 64 + 32 * k], "big") for k in range(n)]
    i = e["leafIndex"]
    for name, bits in (("revoked", array(0)), ("suspended", array(1))):
        if i >> 8 < len(bits) and (bits[i >> 8] >> (i & 255)) & 1:
            raise Invalid(f"revocation: {name}")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--rpc-url", required=True)
    p.add_argument("--confirmations", type=int, default=1)
    p.add_argument("files", nargs="+")
    args = p.parse_args()
    chain = Chain(args.rpc_url)
    for f in args.files:
        try:
            with open(f) as fh:
                check(json.load(fh), chain, args.confirmations)
            verdict, why = "valid", ""
        except Invalid as e:
            verdict, why = "invalid", str(e)
        except Unknown as e:
            verdict, why = "unknown", str(e)
        except (KeyError, ValueError, TypeError, IndexError) as e:
            verdict, why = "invalid", f"malformed: {e!r}"
        print(json.dumps({"file": f, "verdict": verdict, "why": why}), flush=True)


if __name__ == "__main__":
    main()
