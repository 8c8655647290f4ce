"""Storage stacks the storage drivers measure.

Block-device facts and the user-device safety gate (blockdev), the ramdisk -> dm-crypt -> fs ->
mount stack (blockstack, dmcrypt) and page-cache residency (pagecache).
"""

# The public entry points: what a command, another package or a test may import from here.
__all__ = ["blockdev", "blockstack", "dmcrypt", "pagecache"]
