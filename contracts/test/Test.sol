// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

/// @dev The few forge cheatcodes these tests use. forge-std (which declares
///      them all) is fetched from git, and this project builds offline, so
///      they are declared here; the signatures are forge's own.
interface Vm {
    function prank(address sender) external;
    function startPrank(address sender) external;
    function stopPrank() external;
    function expectRevert(bytes4 revertData) external;
    function expectRevert(bytes calldata revertData) external;
    function expectEmit(bool checkTopic1, bool checkTopic2, bool checkTopic3, bool checkData, address emitter) external;
    function roll(uint256 newHeight) external;
    function warp(uint256 newTimestamp) external;
    function assume(bool condition) external pure;
    function load(address target, bytes32 slot) external view returns (bytes32 data);
    function deal(address account, uint256 newBalance) external;
}

/// @dev A tiny stand-in for forge-std's Test: the cheatcode handle, the
///      assertions the tests need (a failed one reverts, which fails the
///      test), `bound` for fuzz inputs, and ds-test log events, which
///      `forge test -vv` prints under each test.
abstract contract Test {
    Vm internal constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));

    event log_named_uint(string key, uint256 val);
    event log_named_string(string key, string val);

    function assertTrue(bool c, string memory what) internal pure {
        if (!c) revert(string.concat("assertion failed: ", what));
    }

    function assertFalse(bool c, string memory what) internal pure {
        assertTrue(!c, what);
    }

    function assertEq(uint256 a, uint256 b, string memory what) internal pure {
        if (a != b) {
            revert(string.concat("assertion failed: ", what, ": ", _str(a), " != ", _str(b)));
        }
    }

    function assertEq(address a, address b, string memory what) internal pure {
        assertEq(uint256(uint160(a)), uint256(uint160(b)), what);
    }

    function assertEq(bytes32 a, bytes32 b, string memory what) internal pure {
        assertEq(uint256(a), uint256(b), what);
    }

    function assertLe(uint256 a, uint256 b, string memory what) internal pure {
        if (a > b) revert(string.concat("assertion failed: ", what, ": ", _str(a), " > ", _str(b)));
    }

    /// @dev Maps any x into [lo, hi] without discarding fuzz runs (unlike
    ///      vm.assume), keeping small values as they are so edge cases stay.
    function bound(uint256 x, uint256 lo, uint256 hi) internal pure returns (uint256) {
        require(lo <= hi, "bound: lo > hi");
        if (x >= lo && x <= hi) return x;
        uint256 size = hi - lo;
        if (size == type(uint256).max) return x;
        return lo + (x % (size + 1));
    }

    function _str(uint256 v) internal pure returns (string memory) {
        if (v == 0) return "0";
        uint256 len;
        for (uint256 t = v; t != 0; t /= 10) {
            ++len;
        }
        bytes memory b = new bytes(len);
        for (; v != 0; v /= 10) {
            b[--len] = bytes1(uint8(48 + (v % 10)));
        }
        return string(b);
    }
}
