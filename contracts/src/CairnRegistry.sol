// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

/// @title Cairn registry: Merkle roots of credential batches, their revocation
///        and suspension bitmaps, and issuer account bindings.
/// @notice Cairn issues W3C Verifiable Credentials in batches. Each batch is a
///         Merkle tree whose leaves are credentials; only the root comes here.
///         A verifier holding a credential and its Merkle proof checks that
///         the root is anchored, by whom and when, and whether the credential's
///         leaf index is revoked or suspended.
/// @dev Deliberately minimal: no owner, no upgrade path, no ether. Every record
///      belongs to the account that wrote it, and nobody (not even the deployer)
///      can change or remove it. A registry that someone could administer would
///      make every anchored credential depend on that someone.
contract CairnRegistry {
    // ---------------------------------------------------------------------
    // Storage
    // ---------------------------------------------------------------------

    /// @dev One anchored batch. The four fields fill exactly one 256-bit
    ///      storage slot (160 + 40 + 32 + 24 bits), so anchoring costs one
    ///      cold SSTORE: this is the operation an issuer pays for on every
    ///      batch. uint40 holds block numbers for about 1e12 blocks; uint32
    ///      holds Unix seconds until 2106; uint24 caps a batch at 16,777,215
    ///      credentials, which also bounds the bitmaps below to 65,536 words.
    struct Anchor {
        address issuer;
        uint40 blockNumber;
        uint32 timestamp;
        uint24 leafCount;
    }

    /// @dev One registered binding document. Also one slot (160 + 48 + 48
    ///      bits): there is no leaf count here, so both numbers get 48 bits.
    struct Binding {
        address account;
        uint48 blockNumber;
        uint48 timestamp;
    }

    /// @dev Storage slot 0. Merkle root => batch record (zero issuer: unknown).
    mapping(bytes32 root => Anchor) private _anchors;

    /// @dev Storage slot 1. Binding document hash => who registered it, when.
    mapping(bytes32 bindingHash => Binding) private _bindings;

    /// @dev Storage slot 2. root => word => 256 revocation bits. Leaf index i
    ///      is bit (i & 255) of word (i >> 8). A bitmap, rather than a mapping
    ///      per index, lets one SSTORE revoke up to 256 credentials at once.
    mapping(bytes32 root => mapping(uint256 word => uint256 bits)) private _revoked;

    /// @dev Storage slot 3. Same layout as `_revoked`, for suspension.
    mapping(bytes32 root => mapping(uint256 word => uint256 bits)) private _suspended;

    // ---------------------------------------------------------------------
    // Events
    // ---------------------------------------------------------------------

    /// @notice A batch root was anchored. Indexed by root (verifiers look a
    ///         credential's root up) and by issuer (to list an issuer's batches).
    event Anchored(bytes32 indexed root, address indexed issuer, uint256 leafCount);

    /// @notice Leaf indices of `root` were revoked, for good.
    event Revoked(bytes32 indexed root, uint256[] indices);

    /// @notice Leaf indices of `root` were suspended (reversible).
    event Suspended(bytes32 indexed root, uint256[] indices);

    /// @notice Suspension was lifted for leaf indices of `root`.
    event Reinstated(bytes32 indexed root, uint256[] indices);

    /// @notice `account` registered the hash of a binding document that names it.
    event BindingRegistered(address indexed account, bytes32 indexed bindingHash);

    // ---------------------------------------------------------------------
    // Errors
    // ---------------------------------------------------------------------

    /// @notice The zero root is how storage says "not anchored", so it cannot
    ///         be anchored itself.
    error ZeroRoot();

    /// @notice leafCount must be between 1 and type(uint24).max: an empty batch
    ///         proves nothing, and the count must fit the packed slot.
    error BadLeafCount();

    /// @notice The root is anchored already. Anchors are write-once, so the
    ///         first issuer and time can never be overwritten.
    error AlreadyAnchored(bytes32 root);

    /// @notice The root was never anchored.
    error UnknownRoot(bytes32 root);

    /// @notice Only the account that anchored a root may change its statuses.
    error NotAnchorer();

    /// @notice A leaf index is not below the batch's leafCount.
    error IndexOutOfRange(uint256 index);

    /// @notice Indices must be strictly increasing: no duplicates, no disorder.
    error IndicesNotSorted();

    /// @notice An empty list of indices would change nothing but still emit an
    ///         event every indexer has to process.
    error NoIndices();

    /// @notice The zero hash is how storage says "not registered".
    error ZeroBindingHash();

    /// @notice The binding hash is registered already (write-once, like anchors).
    error BindingExists(bytes32 bindingHash);

    // ---------------------------------------------------------------------
    // Anchoring
    // ---------------------------------------------------------------------

    /// @notice Anchor a batch: record that msg.sender published Merkle root
    ///         `root` over `leafCount` credentials, at this block and time.
    /// @dev One SLOAD (the write-once check) and one SSTORE of the packed slot.
    ///      The casts cannot truncate in practice: block numbers stay far
    ///      below 2^40 and timestamps below 2^32 until the year 2106.
    function anchor(bytes32 root, uint256 leafCount) external {
        if (root == bytes32(0)) revert ZeroRoot();
        if (leafCount == 0 || leafCount > type(uint24).max) revert BadLeafCount();
        if (_anchors[root].issuer != address(0)) revert AlreadyAnchored(root);
        _anchors[root] = Anchor({
            issuer: msg.sender,
            blockNumber: uint40(block.number),
            timestamp: uint32(block.timestamp),
            // Checked against type(uint24).max above.
            // forge-lint: disable-next-line(unsafe-typecast)
            leafCount: uint24(leafCount)
        });
        emit Anchored(root, msg.sender, leafCount);
    }

    /// @notice The batch record for `root`; a zero `issuer` means not anchored.
    /// @dev Widened to uint64/uint256 so callers need not know the packing.
    function anchors(bytes32 root)
        external
        view
        returns (address issuer, uint64 blockNumber, uint64 timestamp, uint256 leafCount)
    {
        Anchor memory a = _anchors[root];
        return (a.issuer, a.blockNumber, a.timestamp, a.leafCount);
    }

    // ---------------------------------------------------------------------
    // Revocation and suspension
    // ---------------------------------------------------------------------

    /// @notice Revoke leaf indices of `root`. Final: no function clears a
    ///         revocation bit, so a revoked credential can never be made valid
    ///         again (not even by its issuer's compromised key).
    /// @param indices Strictly increasing leaf indices, each below leafCount.
    ///        Revoking an index that is already revoked is allowed (no change).
    function revoke(bytes32 root, uint256[] calldata indices) external {
        _writeBits(_revoked[root], _checkedLeafCount(root), indices, true);
        emit Revoked(root, indices);
    }

    /// @notice Suspend leaf indices of `root` (undo with `reinstate`).
    /// @dev Independent of revocation: a revoked index can also be suspended,
    ///      and `status` reports both; revocation wins for a verifier.
    function suspend(bytes32 root, uint256[] calldata indices) external {
        _writeBits(_suspended[root], _checkedLeafCount(root), indices, true);
        emit Suspended(root, indices);
    }

    /// @notice Lift the suspension of leaf indices of `root`. Touches the
    ///         suspension bitmap only: revocation bits stay as they are.
    function reinstate(bytes32 root, uint256[] calldata indices) external {
        _writeBits(_suspended[root], _checkedLeafCount(root), indices, false);
        emit Reinstated(root, indices);
    }

    /// @notice Whether leaf `index` of batch `root` is revoked.
    function isRevoked(bytes32 root, uint256 index) external view returns (bool) {
        return _bit(_revoked[root], index);
    }

    /// @notice Whether leaf `index` of batch `root` is suspended.
    function isSuspended(bytes32 root, uint256 index) external view returns (bool) {
        return _bit(_suspended[root], index);
    }

    /// @notice Both flags of leaf `index` of batch `root` in one call.
    function status(bytes32 root, uint256 index) external view returns (bool revoked, bool suspended) {
        return (_bit(_revoked[root], index), _bit(_suspended[root], index));
    }

    /// @notice The revocation and suspension bitmaps of `root`, words
    ///         `fromWord` to `fromWord + count - 1` (bit `i & 255` of word
    ///         `i >> 8` is leaf `i`): a verifier checking many credentials of
    ///         one batch reads their flags in one call.
    function statusWords(bytes32 root, uint256 fromWord, uint256 count)
        external
        view
        returns (uint256[] memory revoked, uint256[] memory suspended)
    {
        revoked = new uint256[](count);
        suspended = new uint256[](count);
        mapping(uint256 => uint256) storage r = _revoked[root];
        mapping(uint256 => uint256) storage s = _suspended[root];
        for (uint256 i; i < count; ++i) {
            revoked[i] = r[fromWord + i];
            suspended[i] = s[fromWord + i];
        }
    }

    // ---------------------------------------------------------------------
    // Issuer binding
    // ---------------------------------------------------------------------

    /// @notice Register the hash of a binding document: a small credential,
    ///         signed by the issuer's did:key, that names msg.sender as the
    ///         issuer's chain account. The document travels with proofs
    ///         off-chain; recording its hash from the named account shows the
    ///         account agrees, so a verifier can tie anchors made by this
    ///         account to the did:key that signed the credentials.
    function registerBinding(bytes32 bindingHash) external {
        if (bindingHash == bytes32(0)) revert ZeroBindingHash();
        if (_bindings[bindingHash].account != address(0)) revert BindingExists(bindingHash);
        _bindings[bindingHash] =
            Binding({account: msg.sender, blockNumber: uint48(block.number), timestamp: uint48(block.timestamp)});
        emit BindingRegistered(msg.sender, bindingHash);
    }

    /// @notice Who registered `bindingHash`, and when; zero account: nobody.
    function bindings(bytes32 bindingHash)
        external
        view
        returns (address account, uint64 blockNumber, uint64 timestamp)
    {
        Binding memory b = _bindings[bindingHash];
        return (b.account, b.blockNumber, b.timestamp);
    }

    // ---------------------------------------------------------------------
    // Internals
    // ---------------------------------------------------------------------

    /// @dev The leafCount of `root`, after checking that it is anchored and
    ///      that msg.sender anchored it.
    function _checkedLeafCount(bytes32 root) private view returns (uint256) {
        Anchor storage a = _anchors[root];
        address issuer = a.issuer;
        if (issuer == address(0)) revert UnknownRoot(root);
        if (issuer != msg.sender) revert NotAnchorer();
        return a.leafCount;
    }

    /// @dev Sets (`set`) or clears the bits of `indices` in `map`. Because the
    ///      indices are strictly increasing, indices that share a 256-bit word
    ///      are adjacent: their bits are gathered into one mask and written with
    ///      a single SLOAD/SSTORE per distinct word, which is what makes a
    ///      bitmap cheap per index. Sortedness also means the last index is the
    ///      largest, so one range check covers them all.
    ///
    ///      The loop is assembly because it is the per-index cost of every
    ///      revocation: the same loop in Solidity cost about 220 gas per index,
    ///      this one about 150. (Beyond the loop, each index costs its 32 bytes
    ///      of calldata and 256 gas of event log data.) The ABI decoder has
    ///      already checked that the array lies within calldata, and the tests
    ///      (fuzz tests against a plain model included) pin the behaviour down.
    function _writeBits(
        mapping(uint256 => uint256) storage map,
        uint256 leafCount,
        uint256[] calldata indices,
        bool set
    ) private {
        if (indices.length == 0) revert NoIndices();
        {
            uint256 last = indices[indices.length - 1];
            if (last >= leafCount) revert IndexOutOfRange(last);
        }
        bool sorted = true;
        assembly ("memory-safe") {
            // One read-modify-write of map[w]: OR the mask in, or AND it out.
            // The slot is keccak256(w . map.slot), as Solidity lays it out;
            // the hash input goes in the scratch space at 0x00-0x3f.
            function flush(mapSlot, w, m, s) {
                mstore(0x00, w)
                mstore(0x20, mapSlot)
                let slot := keccak256(0x00, 0x40)
                switch s
                case 0 { sstore(slot, and(sload(slot), not(m))) }
                default { sstore(slot, or(sload(slot), m)) }
            }
            let p := indices.offset
            let end := add(p, shl(5, indices.length))
            let index := calldataload(p)
            let word := shr(8, index)
            let mask := shl(and(index, 0xff), 1)
            for { p := add(p, 0x20) } lt(p, end) { p := add(p, 0x20) } {
                let next := calldataload(p)
                if iszero(gt(next, index)) {
                    sorted := 0
                    break
                }
                index := next
                if iszero(eq(shr(8, next), word)) {
                    flush(map.slot, word, mask, set)
                    word := shr(8, next)
                    mask := 0
                }
                mask := or(mask, shl(and(next, 0xff), 1))
            }
            if sorted { flush(map.slot, word, mask, set) }
        }
        // Any words written before the disorder was found are rolled back.
        if (!sorted) revert IndicesNotSorted();
    }

    /// @dev Bit `index` of `map`. Indices at or beyond a batch's leafCount (and
    ///      indices of unknown roots) read as false: nothing can set them.
    function _bit(mapping(uint256 => uint256) storage map, uint256 index) private view returns (bool) {
        return (map[index >> 8] >> (index & 255)) & 1 == 1;
    }
}
