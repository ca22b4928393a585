"""The page hash of SPEC 2.2, written again from the text alone with
Python's zlib (a CRC-32 by other people): the independent implementation
the bats tests compare flokvm's hashes with."""
import zlib


def page_hash(page):
    z = 0
    for k in ("_head", "_next", "_prev"):
        if isinstance(page.get(k), str) and page[k]:
            z = zlib.crc32(page[k].encode(), z)
    z = zlib.crc32(page["_uuid"].encode(), z)
    for e in page["entries"]:
        z = zlib.crc32(e["_timestamp"].encode(), z)
    return str(z)
