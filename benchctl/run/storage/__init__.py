"""Storage stacks the storage drivers measure: block-device facts and the
user-device safety gate (blockdev), the ramdisk -> dm-crypt -> fs -> mount
stack (blockstack, dmcrypt) and page-cache residency (pagecache).
"""
