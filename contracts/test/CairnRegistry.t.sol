// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {Test} from "./Test.sol";
import {CairnRegistry} from "../src/CairnRegistry.sol";

contract CairnRegistryTest is Test {
    CairnRegistry internal registry;

    address internal constant ALICE = address(0xA11CE);
    address internal constant BOB = address(0xB0B);

    bytes32 internal constant ROOT = keccak256("batch 1");
    uint256 internal constant LEAVES = 2000;

    /// @dev Storage slots of the registry's bitmaps (see its layout comments;
    ///      `forge inspect CairnRegistry storageLayout` shows the same).
    uint256 internal constant REVOKED_SLOT = 2;
    uint256 internal constant SUSPENDED_SLOT = 3;

    /// @dev Roots anchored in setUp for the gas tests: setUp runs as its own
    ///      call, so their storage is cold again in the test, as it is for
    ///      a real revoke transaction.
    bytes32 internal constant GAS_ROOT_1 = keccak256("gas 1");
    bytes32 internal constant GAS_ROOT_256 = keccak256("gas 256");
    bytes32 internal constant GAS_ROOT_1000 = keccak256("gas 1000");

    /// @dev A transaction may use at most this much gas for anchor.
    uint256 internal constant ANCHOR_TX_GAS_BUDGET = 60_000;

    function setUp() public {
        registry = new CairnRegistry();
        vm.startPrank(ALICE);
        registry.anchor(GAS_ROOT_1, 1000);
        registry.anchor(GAS_ROOT_256, 1000);
        registry.anchor(GAS_ROOT_1000, 1000);
        vm.stopPrank();
    }

    // ------------------------------------------------------------------
    // Helpers
    // ------------------------------------------------------------------

    function _anchorAs(address who, bytes32 root, uint256 leafCount) internal {
        vm.prank(who);
        registry.anchor(root, leafCount);
    }

    /// @dev [start, start + stride, ...], count elements.
    function _range(uint256 start, uint256 count, uint256 stride) internal pure returns (uint256[] memory a) {
        a = new uint256[](count);
        for (uint256 i; i < count; ++i) {
            a[i] = start + i * stride;
        }
    }

    function _list(uint256 a) internal pure returns (uint256[] memory l) {
        l = new uint256[](1);
        l[0] = a;
    }

    function _list(uint256 a, uint256 b) internal pure returns (uint256[] memory l) {
        l = new uint256[](2);
        (l[0], l[1]) = (a, b);
    }

    function _list(uint256 a, uint256 b, uint256 c) internal pure returns (uint256[] memory l) {
        l = new uint256[](3);
        (l[0], l[1], l[2]) = (a, b, c);
    }

    /// @dev The word with only bit `bit` set (2 ** bit, i.e. one shifted left).
    function _bitAt(uint256 bit) internal pure returns (uint256) {
        return 2 ** bit;
    }

    function _word(uint256 mapSlot, bytes32 root, uint256 word) internal view returns (uint256) {
        bytes32 inner = keccak256(abi.encode(root, mapSlot));
        return uint256(vm.load(address(registry), keccak256(abi.encode(word, inner))));
    }

    /// @dev Calldata gas as charged before EIP-7623's floor: 16 per non-zero
    ///      byte, 4 per zero byte.
    function _calldataGas(bytes memory data) internal pure returns (uint256 g) {
        for (uint256 i; i < data.length; ++i) {
            g += data[i] == 0 ? 4 : 16;
        }
    }

    /// @dev Status-changing functions by number, to run the same access
    ///      checks against all three.
    function _call(uint256 which, bytes32 root, uint256[] memory indices) internal {
        if (which == 0) registry.revoke(root, indices);
        else if (which == 1) registry.suspend(root, indices);
        else registry.reinstate(root, indices);
    }

    // ------------------------------------------------------------------
    // anchor / anchors
    // ------------------------------------------------------------------

    function test_Anchor_StoresRecord() public {
        vm.roll(1_234_567);
        vm.warp(1_800_000_000);
        _anchorAs(ALICE, ROOT, LEAVES);
        (address issuer, uint64 blockNumber, uint64 timestamp, uint256 leafCount) = registry.anchors(ROOT);
        assertEq(issuer, ALICE, "issuer");
        assertEq(blockNumber, 1_234_567, "blockNumber");
        assertEq(timestamp, 1_800_000_000, "timestamp");
        assertEq(leafCount, LEAVES, "leafCount");
    }

    function test_Anchor_PacksIntoOneSlot() public {
        vm.roll(7);
        vm.warp(9);
        _anchorAs(ALICE, ROOT, 5);
        uint256 slot0 = uint256(keccak256(abi.encode(ROOT, uint256(0))));
        uint256 packed = uint256(vm.load(address(registry), bytes32(slot0)));
        uint256 expected = uint256(uint160(ALICE)) | (7 << 160) | (9 << 200) | (5 << 232);
        assertEq(packed, expected, "packed slot");
        assertEq(uint256(vm.load(address(registry), bytes32(slot0 + 1))), 0, "next slot untouched");
    }

    function test_Anchor_EmitsAnchored() public {
        vm.expectEmit(true, true, true, true, address(registry));
        emit CairnRegistry.Anchored(ROOT, ALICE, LEAVES);
        _anchorAs(ALICE, ROOT, LEAVES);
    }

    function test_Anchor_RevertsOnZeroRoot() public {
        vm.expectRevert(CairnRegistry.ZeroRoot.selector);
        registry.anchor(bytes32(0), 1);
    }

    function test_Anchor_RevertsOnZeroLeafCount() public {
        vm.expectRevert(CairnRegistry.BadLeafCount.selector);
        registry.anchor(ROOT, 0);
    }

    function test_Anchor_RevertsOnLeafCountAboveUint24() public {
        vm.expectRevert(CairnRegistry.BadLeafCount.selector);
        registry.anchor(ROOT, uint256(type(uint24).max) + 1);
        vm.expectRevert(CairnRegistry.BadLeafCount.selector);
        registry.anchor(ROOT, type(uint256).max);
    }

    function test_Anchor_AcceptsMaxLeafCount() public {
        _anchorAs(ALICE, ROOT, type(uint24).max);
        (,,, uint256 leafCount) = registry.anchors(ROOT);
        assertEq(leafCount, type(uint24).max, "leafCount");
    }

    function test_Anchor_RevertsWhenAlreadyAnchored() public {
        _anchorAs(ALICE, ROOT, LEAVES);
        // Neither the same issuer nor anyone else can overwrite it.
        vm.prank(ALICE);
        vm.expectRevert(abi.encodeWithSelector(CairnRegistry.AlreadyAnchored.selector, ROOT));
        registry.anchor(ROOT, LEAVES + 1);
        vm.prank(BOB);
        vm.expectRevert(abi.encodeWithSelector(CairnRegistry.AlreadyAnchored.selector, ROOT));
        registry.anchor(ROOT, 1);
        (address issuer,,, uint256 leafCount) = registry.anchors(ROOT);
        assertEq(issuer, ALICE, "issuer unchanged");
        assertEq(leafCount, LEAVES, "leafCount unchanged");
    }

    function test_Anchors_UnknownRootIsZero() public view {
        (address issuer, uint64 blockNumber, uint64 timestamp, uint256 leafCount) = registry.anchors(ROOT);
        assertEq(issuer, address(0), "issuer");
        assertEq(blockNumber, 0, "blockNumber");
        assertEq(timestamp, 0, "timestamp");
        assertEq(leafCount, 0, "leafCount");
    }

    // ------------------------------------------------------------------
    // revoke / suspend / reinstate
    // ------------------------------------------------------------------

    function test_Revoke_SetsBitsAndEmits() public {
        _anchorAs(ALICE, ROOT, LEAVES);
        uint256[] memory idx = _list(3, 17, 1999);
        vm.expectEmit(true, true, true, true, address(registry));
        emit CairnRegistry.Revoked(ROOT, idx);
        vm.prank(ALICE);
        registry.revoke(ROOT, idx);
        for (uint256 i; i < idx.length; ++i) {
            assertTrue(registry.isRevoked(ROOT, idx[i]), "revoked");
            assertFalse(registry.isSuspended(ROOT, idx[i]), "revoke does not suspend");
        }
        assertFalse(registry.isRevoked(ROOT, 4), "neighbour untouched");
        assertFalse(registry.isRevoked(ROOT, 0), "index 0 untouched");
    }

    function test_Revoke_AgainIsAllowedAndKeepsBits() public {
        _anchorAs(ALICE, ROOT, LEAVES);
        vm.startPrank(ALICE);
        registry.revoke(ROOT, _list(5));
        registry.revoke(ROOT, _list(5, 6));
        vm.stopPrank();
        assertTrue(registry.isRevoked(ROOT, 5), "5");
        assertTrue(registry.isRevoked(ROOT, 6), "6");
    }

    function test_Revoke_CannotBeUndone() public {
        _anchorAs(ALICE, ROOT, LEAVES);
        uint256[] memory idx = _list(1, 300, 1000);
        vm.startPrank(ALICE);
        registry.revoke(ROOT, idx);
        // reinstate only clears suspension; suspend + reinstate round trips
        // leave the revocation bits as they were.
        registry.reinstate(ROOT, idx);
        registry.suspend(ROOT, idx);
        registry.reinstate(ROOT, idx);
        vm.stopPrank();
        for (uint256 i; i < idx.length; ++i) {
            (bool revoked, bool suspended) = registry.status(ROOT, idx[i]);
            assertTrue(revoked, "still revoked");
            assertFalse(suspended, "not suspended");
        }
        uint256 word0 = _word(REVOKED_SLOT, ROOT, 0);
        assertEq(word0, _bitAt(1), "revocation word 0 intact");
    }

    function test_Suspend_IsReversible() public {
        _anchorAs(ALICE, ROOT, LEAVES);
        uint256[] memory idx = _list(0, 256, 1999);

        vm.expectEmit(true, true, true, true, address(registry));
        emit CairnRegistry.Suspended(ROOT, idx);
        vm.prank(ALICE);
        registry.suspend(ROOT, idx);
        for (uint256 i; i < idx.length; ++i) {
            assertTrue(registry.isSuspended(ROOT, idx[i]), "suspended");
            assertFalse(registry.isRevoked(ROOT, idx[i]), "suspend does not revoke");
        }

        vm.expectEmit(true, true, true, true, address(registry));
        emit CairnRegistry.Reinstated(ROOT, idx);
        vm.prank(ALICE);
        registry.reinstate(ROOT, idx);
        for (uint256 i; i < idx.length; ++i) {
            assertFalse(registry.isSuspended(ROOT, idx[i]), "reinstated");
        }
        assertEq(_word(SUSPENDED_SLOT, ROOT, 0), 0, "suspension word 0 cleared");
        assertEq(_word(SUSPENDED_SLOT, ROOT, 1), 0, "suspension word 1 cleared");
        assertEq(_word(SUSPENDED_SLOT, ROOT, 7), 0, "suspension word 7 cleared");
    }

    function test_Reinstate_ClearsOnlyTheGivenIndices() public {
        _anchorAs(ALICE, ROOT, LEAVES);
        vm.startPrank(ALICE);
        registry.suspend(ROOT, _list(10, 11, 600));
        registry.reinstate(ROOT, _list(11));
        vm.stopPrank();
        assertTrue(registry.isSuspended(ROOT, 10), "10 stays");
        assertFalse(registry.isSuspended(ROOT, 11), "11 lifted");
        assertTrue(registry.isSuspended(ROOT, 600), "600 stays");
    }

    function test_Reinstate_OfUnsuspendedIndexIsANoOp() public {
        _anchorAs(ALICE, ROOT, LEAVES);
        vm.prank(ALICE);
        registry.reinstate(ROOT, _list(42));
        assertFalse(registry.isSuspended(ROOT, 42), "not suspended");
    }

    function test_Status_ReportsBothFlags() public {
        _anchorAs(ALICE, ROOT, LEAVES);
        vm.startPrank(ALICE);
        registry.revoke(ROOT, _list(1, 3));
        registry.suspend(ROOT, _list(2, 3));
        vm.stopPrank();
        bool r;
        bool s;
        (r, s) = registry.status(ROOT, 0);
        assertTrue(!r && !s, "0: neither");
        (r, s) = registry.status(ROOT, 1);
        assertTrue(r && !s, "1: revoked");
        (r, s) = registry.status(ROOT, 2);
        assertTrue(!r && s, "2: suspended");
        (r, s) = registry.status(ROOT, 3);
        assertTrue(r && s, "3: both");
    }

    function test_StatusWords_MatchTheBits() public {
        _anchorAs(ALICE, ROOT, LEAVES);
        uint256[] memory revoke = new uint256[](3);
        (revoke[0], revoke[1], revoke[2]) = (0, 255, 513);
        vm.startPrank(ALICE);
        registry.revoke(ROOT, revoke);
        registry.suspend(ROOT, _list(256));
        vm.stopPrank();
        (uint256[] memory r, uint256[] memory s) = registry.statusWords(ROOT, 0, 3);
        assertEq(r.length, 3, "three words");
        assertEq(r[0], 1 | (1 << 255), "word 0 revoked");
        assertEq(r[1], 0, "word 1 revoked");
        assertEq(r[2], 1 << 1, "word 2 revoked");
        assertEq(s[0], 0, "word 0 suspended");
        assertEq(s[1], 1, "word 1 suspended");
        (r, s) = registry.statusWords(ROOT, 2, 1);
        assertEq(r[0], 1 << 1, "from word 2");
        (r, s) = registry.statusWords(keccak256("unknown"), 0, 2);
        assertEq(r[0] | r[1] | s[0] | s[1], 0, "unknown root");
    }

    function test_Views_OutsideAnyBatchReadFalse() public view {
        assertFalse(registry.isRevoked(ROOT, 0), "unknown root");
        assertFalse(registry.isSuspended(ROOT, type(uint256).max), "huge index");
        (bool r, bool s) = registry.status(bytes32(0), 12345);
        assertTrue(!r && !s, "zero root");
    }

    function test_StatusChanges_RevertForNonAnchorer() public {
        _anchorAs(ALICE, ROOT, LEAVES);
        for (uint256 which; which < 3; ++which) {
            vm.prank(BOB);
            vm.expectRevert(CairnRegistry.NotAnchorer.selector);
            _call(which, ROOT, _list(1));
        }
        // Not even whoever deployed the registry (this contract).
        vm.expectRevert(CairnRegistry.NotAnchorer.selector);
        registry.revoke(ROOT, _list(1));
        assertFalse(registry.isRevoked(ROOT, 1), "unchanged");
    }

    function test_StatusChanges_RevertForUnknownRoot() public {
        for (uint256 which; which < 3; ++which) {
            vm.prank(ALICE);
            vm.expectRevert(abi.encodeWithSelector(CairnRegistry.UnknownRoot.selector, ROOT));
            _call(which, ROOT, _list(1));
        }
    }

    function test_StatusChanges_RevertOnUnsortedIndices() public {
        _anchorAs(ALICE, ROOT, LEAVES);
        for (uint256 which; which < 3; ++which) {
            vm.prank(ALICE);
            vm.expectRevert(CairnRegistry.IndicesNotSorted.selector);
            _call(which, ROOT, _list(5, 4));
            vm.prank(ALICE);
            vm.expectRevert(CairnRegistry.IndicesNotSorted.selector);
            _call(which, ROOT, _list(1, 700, 300)); // across words
        }
    }

    function test_StatusChanges_RevertOnDuplicateIndices() public {
        _anchorAs(ALICE, ROOT, LEAVES);
        for (uint256 which; which < 3; ++which) {
            vm.prank(ALICE);
            vm.expectRevert(CairnRegistry.IndicesNotSorted.selector);
            _call(which, ROOT, _list(5, 5));
            vm.prank(ALICE);
            vm.expectRevert(CairnRegistry.IndicesNotSorted.selector);
            _call(which, ROOT, _list(1, 9, 9));
        }
    }

    function test_StatusChanges_RevertOnIndexOutOfRange() public {
        _anchorAs(ALICE, ROOT, LEAVES);
        for (uint256 which; which < 3; ++which) {
            vm.prank(ALICE);
            vm.expectRevert(abi.encodeWithSelector(CairnRegistry.IndexOutOfRange.selector, LEAVES));
            _call(which, ROOT, _list(LEAVES));
            vm.prank(ALICE);
            vm.expectRevert(abi.encodeWithSelector(CairnRegistry.IndexOutOfRange.selector, type(uint256).max));
            _call(which, ROOT, _list(0, LEAVES - 1, type(uint256).max));
        }
        // The last valid index is accepted.
        vm.prank(ALICE);
        registry.revoke(ROOT, _list(LEAVES - 1));
        assertTrue(registry.isRevoked(ROOT, LEAVES - 1), "last leaf");
    }

    function test_StatusChanges_RevertOnEmptyIndices() public {
        _anchorAs(ALICE, ROOT, LEAVES);
        for (uint256 which; which < 3; ++which) {
            vm.prank(ALICE);
            vm.expectRevert(CairnRegistry.NoIndices.selector);
            _call(which, ROOT, new uint256[](0));
        }
    }

    function test_Revoke_BatchAcrossWordsSetsExactlyThoseBits() public {
        uint256 leaves = 5000;
        _anchorAs(ALICE, ROOT, leaves);
        uint256[] memory idx = new uint256[](10);
        (idx[0], idx[1], idx[2], idx[3], idx[4]) = (0, 1, 255, 256, 511);
        (idx[5], idx[6], idx[7], idx[8], idx[9]) = (512, 700, 1023, 1024, 4999);
        vm.prank(ALICE);
        registry.revoke(ROOT, idx);

        // Word by word, exactly the expected masks.
        assertEq(_word(REVOKED_SLOT, ROOT, 0), _bitAt(0) | _bitAt(1) | _bitAt(255), "word 0");
        assertEq(_word(REVOKED_SLOT, ROOT, 1), _bitAt(0) | _bitAt(255), "word 1");
        assertEq(_word(REVOKED_SLOT, ROOT, 2), _bitAt(0) | _bitAt(700 - 512), "word 2");
        assertEq(_word(REVOKED_SLOT, ROOT, 3), _bitAt(255), "word 3");
        assertEq(_word(REVOKED_SLOT, ROOT, 4), _bitAt(0), "word 4");
        assertEq(_word(REVOKED_SLOT, ROOT, 5), 0, "word 5");
        assertEq(_word(REVOKED_SLOT, ROOT, 19), _bitAt(4999 - 19 * 256), "word 19");

        // And through the view, every leaf of the batch.
        uint256 k;
        for (uint256 i; i < leaves; ++i) {
            bool expected = k < idx.length && idx[k] == i;
            if (expected) ++k;
            assertTrue(registry.isRevoked(ROOT, i) == expected, "isRevoked matches the batch");
        }
    }

    // ------------------------------------------------------------------
    // registerBinding / bindings
    // ------------------------------------------------------------------

    function test_RegisterBinding_StoresAndEmits() public {
        bytes32 h = keccak256("binding document");
        vm.roll(99);
        vm.warp(1_900_000_000);
        vm.expectEmit(true, true, true, true, address(registry));
        emit CairnRegistry.BindingRegistered(ALICE, h);
        vm.prank(ALICE);
        registry.registerBinding(h);
        (address account, uint64 blockNumber, uint64 timestamp) = registry.bindings(h);
        assertEq(account, ALICE, "account");
        assertEq(blockNumber, 99, "blockNumber");
        assertEq(timestamp, 1_900_000_000, "timestamp");
    }

    function test_RegisterBinding_RevertsOnZeroHash() public {
        vm.expectRevert(CairnRegistry.ZeroBindingHash.selector);
        registry.registerBinding(bytes32(0));
    }

    function test_RegisterBinding_RevertsWhenRegistered() public {
        bytes32 h = keccak256("binding document");
        vm.prank(ALICE);
        registry.registerBinding(h);
        vm.prank(BOB);
        vm.expectRevert(abi.encodeWithSelector(CairnRegistry.BindingExists.selector, h));
        registry.registerBinding(h);
        vm.prank(ALICE);
        vm.expectRevert(abi.encodeWithSelector(CairnRegistry.BindingExists.selector, h));
        registry.registerBinding(h);
        (address account,,) = registry.bindings(h);
        assertEq(account, ALICE, "first registration stays");
    }

    function test_RegisterBinding_SeveralPerAccount() public {
        vm.startPrank(ALICE);
        registry.registerBinding(keccak256("a"));
        registry.registerBinding(keccak256("b"));
        vm.stopPrank();
        (address a,,) = registry.bindings(keccak256("a"));
        (address b,,) = registry.bindings(keccak256("b"));
        assertEq(a, ALICE, "a");
        assertEq(b, ALICE, "b");
    }

    function test_Bindings_UnknownIsZero() public view {
        (address account, uint64 blockNumber, uint64 timestamp) = registry.bindings(keccak256("nothing"));
        assertEq(account, address(0), "account");
        assertEq(blockNumber, 0, "blockNumber");
        assertEq(timestamp, 0, "timestamp");
    }

    // ------------------------------------------------------------------
    // No ether, no fallback
    // ------------------------------------------------------------------

    function test_RejectsEtherAndUnknownCalls() public {
        vm.deal(address(this), 1 ether);
        (bool ok,) = address(registry).call{value: 1}("");
        assertFalse(ok, "plain transfer");
        (ok,) = address(registry).call{value: 1}(abi.encodeCall(CairnRegistry.anchor, (ROOT, 1)));
        assertFalse(ok, "value with anchor");
        (ok,) = address(registry).call(hex"deadbeef");
        assertFalse(ok, "unknown selector");
        assertEq(address(registry).balance, 0, "balance");
    }

    // ------------------------------------------------------------------
    // Fuzz
    // ------------------------------------------------------------------

    /// (a) Anchor anything valid as anyone, at any block and time the packed
    ///     fields hold, and read exactly that back.
    function testFuzz_AnchorReadBack(bytes32 root, uint256 leafCount, address sender, uint256 blk, uint256 ts) public {
        vm.assume(root != bytes32(0));
        vm.assume(root != GAS_ROOT_1 && root != GAS_ROOT_256 && root != GAS_ROOT_1000);
        vm.assume(sender != address(0));
        leafCount = bound(leafCount, 1, type(uint24).max);
        blk = bound(blk, 0, type(uint40).max);
        ts = bound(ts, 0, type(uint32).max);
        vm.roll(blk);
        vm.warp(ts);

        vm.expectEmit(true, true, true, true, address(registry));
        emit CairnRegistry.Anchored(root, sender, leafCount);
        vm.prank(sender);
        registry.anchor(root, leafCount);

        (address issuer, uint64 b, uint64 t, uint256 n) = registry.anchors(root);
        assertEq(issuer, sender, "issuer");
        assertEq(b, blk, "blockNumber");
        assertEq(t, ts, "timestamp");
        assertEq(n, leafCount, "leafCount");
    }

    /// (b) Revoke a random sorted set of indices (random size and density)
    ///     within a random leafCount: exactly those read as revoked, every
    ///     other leaf of the batch (there is at least one unless the set is
    ///     the whole batch) does not, and suspension is untouched.
    function testFuzz_RevokeExactlyThoseIndices(uint256 seed, uint256 leafCount, uint256 sparsity) public {
        leafCount = bound(leafCount, 1, 1500);
        sparsity = bound(sparsity, 0, 5); // keep each index with probability 2^-(sparsity+1)

        bool[] memory chosen = new bool[](leafCount);
        uint256 count;
        for (uint256 i; i < leafCount; ++i) {
            uint256 bits = type(uint256).max;
            for (uint256 s; s <= sparsity; ++s) {
                bits &= uint256(keccak256(abi.encode(seed, s, i >> 8)));
            }
            if ((bits >> (i & 255)) & 1 == 1) {
                chosen[i] = true;
                ++count;
            }
        }
        if (count == 0) {
            chosen[seed % leafCount] = true;
            count = 1;
        }
        uint256[] memory idx = new uint256[](count);
        uint256 k;
        for (uint256 i; i < leafCount; ++i) {
            if (chosen[i]) idx[k++] = i;
        }

        _anchorAs(ALICE, ROOT, leafCount);
        vm.prank(ALICE);
        registry.revoke(ROOT, idx);

        bool sawUnrevoked;
        for (uint256 i; i < leafCount; ++i) {
            (bool r, bool s) = registry.status(ROOT, i);
            assertTrue(r == chosen[i], "revoked exactly the chosen indices");
            assertFalse(s, "suspension untouched");
            if (!r) sawUnrevoked = true;
        }
        assertTrue(sawUnrevoked || count == leafCount, "some other index is not revoked");
        assertFalse(registry.isRevoked(ROOT, leafCount), "first index past the batch");
        assertFalse(registry.isRevoked(keccak256(abi.encode(ROOT)), idx[0]), "other root");
    }

    /// (c) For any index a batch can have, revoking (or suspending) it sets
    ///     bit (index & 255) of word (index >> 8) of that bitmap, and nothing
    ///     else in that word.
    function testFuzz_BitmapWordAndBit(uint256 index) public {
        uint256 leafCount = type(uint24).max;
        index = bound(index, 0, leafCount - 1);
        _anchorAs(ALICE, ROOT, leafCount);
        vm.startPrank(ALICE);
        registry.revoke(ROOT, _list(index));
        registry.suspend(ROOT, _list(index));
        vm.stopPrank();

        assertEq(_word(REVOKED_SLOT, ROOT, index >> 8), _bitAt(index & 255), "revocation word");
        assertEq(_word(SUSPENDED_SLOT, ROOT, index >> 8), _bitAt(index & 255), "suspension word");
        assertTrue(registry.isRevoked(ROOT, index), "isRevoked");
        assertTrue(registry.isSuspended(ROOT, index), "isSuspended");
        if (index > 0) assertFalse(registry.isRevoked(ROOT, index - 1), "index - 1");
        if (index + 1 < leafCount) assertFalse(registry.isRevoked(ROOT, index + 1), "index + 1");
    }

    /// Suspend a random sorted set, then reinstate a random sorted subset of
    /// the batch (overlapping the suspended set or not): exactly the suspended
    /// indices that were not reinstated stay suspended.
    function testFuzz_ReinstateClearsExactlyThoseIndices(uint256 seedA, uint256 seedB, uint256 leafCount) public {
        leafCount = bound(leafCount, 1, 1200);
        (uint256[] memory a, bool[] memory inA) = _randomSubset(seedA, leafCount);
        (uint256[] memory b, bool[] memory inB) = _randomSubset(seedB, leafCount);
        _anchorAs(ALICE, ROOT, leafCount);
        vm.startPrank(ALICE);
        registry.suspend(ROOT, a);
        registry.reinstate(ROOT, b);
        vm.stopPrank();
        for (uint256 i; i < leafCount; ++i) {
            assertTrue(registry.isSuspended(ROOT, i) == (inA[i] && !inB[i]), "suspended = A minus B");
            assertFalse(registry.isRevoked(ROOT, i), "revocation untouched");
        }
    }

    /// @dev A non-empty sorted subset of [0, n), about half the indices.
    function _randomSubset(uint256 seed, uint256 n) internal pure returns (uint256[] memory idx, bool[] memory in_) {
        in_ = new bool[](n);
        uint256 count;
        for (uint256 i; i < n; ++i) {
            if ((uint256(keccak256(abi.encode(seed, i >> 8))) >> (i & 255)) & 1 == 1) {
                in_[i] = true;
                ++count;
            }
        }
        if (count == 0) {
            in_[seed % n] = true;
            count = 1;
        }
        idx = new uint256[](count);
        uint256 k;
        for (uint256 i; i < n; ++i) {
            if (in_[i]) idx[k++] = i;
        }
    }

    /// Suspension round trips for any index; revocation survives it.
    function testFuzz_SuspendReinstateKeepsRevocation(uint256 index, bool revokeFirst) public {
        index = bound(index, 0, LEAVES - 1);
        _anchorAs(ALICE, ROOT, LEAVES);
        vm.startPrank(ALICE);
        if (revokeFirst) registry.revoke(ROOT, _list(index));
        registry.suspend(ROOT, _list(index));
        assertTrue(registry.isSuspended(ROOT, index), "suspended");
        registry.reinstate(ROOT, _list(index));
        vm.stopPrank();
        (bool r, bool s) = registry.status(ROOT, index);
        assertFalse(s, "reinstated");
        assertTrue(r == revokeFirst, "revocation unchanged");
    }

    /// Anyone but the anchorer is refused, for each status change.
    function testFuzz_OnlyAnchorerChangesStatus(address who, uint256 which) public {
        vm.assume(who != ALICE);
        which = bound(which, 0, 2);
        _anchorAs(ALICE, ROOT, LEAVES);
        vm.prank(who);
        vm.expectRevert(CairnRegistry.NotAnchorer.selector);
        _call(which, ROOT, _list(0));
    }

    function testFuzz_BindingReadBack(bytes32 h, address sender, uint256 blk, uint256 ts) public {
        vm.assume(h != bytes32(0) && sender != address(0));
        blk = bound(blk, 0, type(uint48).max);
        ts = bound(ts, 0, type(uint48).max);
        vm.roll(blk);
        vm.warp(ts);
        vm.prank(sender);
        registry.registerBinding(h);
        (address account, uint64 b, uint64 t) = registry.bindings(h);
        assertEq(account, sender, "account");
        assertEq(b, blk, "blockNumber");
        assertEq(t, ts, "timestamp");
    }

    // ------------------------------------------------------------------
    // Gas. Execution gas measured with gasleft() around the external call;
    // that includes the caller's CALL overhead, so it is an upper bound on
    // what the contract itself uses. contracts/measure-gas measures whole
    // transactions on anvil; docs/performance.md has its figures.
    // ------------------------------------------------------------------

    function test_Gas_AnchorWithinTransactionBudget() public {
        bytes32 root = keccak256("gas anchor");
        uint256 leafCount = 1000;
        bytes memory data = abi.encodeCall(CairnRegistry.anchor, (root, leafCount));
        vm.prank(ALICE);
        uint256 before = gasleft();
        (bool ok,) = address(registry).call(data);
        uint256 execution = before - gasleft();
        assertTrue(ok, "anchor succeeded");

        uint256 calldataGas = _calldataGas(data);
        uint256 txGas = 21_000 + calldataGas + execution;
        emit log_named_uint("anchor: execution gas (upper bound)", execution);
        emit log_named_uint("anchor: calldata gas", calldataGas);
        emit log_named_uint("anchor: transaction gas (upper bound)", txGas);
        assertLe(txGas, ANCHOR_TX_GAS_BUDGET, "anchor transaction gas");
    }

    /// @dev The calldata is encoded before measuring, so the figure is the
    ///      registry's execution plus the CALL itself, not the test's encoding.
    function _revokeGas(bytes32 root, uint256[] memory idx, string memory label) internal returns (uint256 g) {
        bytes memory data = abi.encodeCall(CairnRegistry.revoke, (root, idx));
        vm.prank(ALICE);
        uint256 before = gasleft();
        (bool ok,) = address(registry).call(data);
        g = before - gasleft();
        assertTrue(ok, "revoke succeeded");
        assertTrue(registry.isRevoked(root, idx[idx.length - 1]), "last index revoked");
        emit log_named_uint(string.concat(label, ": execution gas"), g);
        emit log_named_uint(string.concat(label, ": execution gas per index"), g / idx.length);
        emit log_named_uint(string.concat(label, ": calldata gas"), _calldataGas(data));
    }

    function test_Gas_Revoke1() public {
        uint256 g = _revokeGas(GAS_ROOT_1, _list(7), "revoke 1 index");
        // One cold word: a zero-to-non-zero SSTORE (22,100), the anchor
        // record's cold SLOAD (2,100), the log, and the CALL into the registry.
        assertLe(g, 35_000, "revoke 1");
    }

    function test_Gas_Revoke256OneWord() public {
        uint256 g = _revokeGas(GAS_ROOT_256, _range(256, 256, 1), "revoke 256 indices, one word");
        // Still one SSTORE; the rest is per index: about 150 for the loop and
        // 256 for the event's log data. One SSTORE per index would be > 5,000.
        assertLe(g / 256, 600, "revoke 256 per index");
    }

    function test_Gas_Revoke1000() public {
        uint256 g = _revokeGas(GAS_ROOT_1000, _range(0, 1000, 1), "revoke 1000 indices, 4 words");
        assertLe(g / 1000, 600, "revoke 1000 per index");
    }
}
